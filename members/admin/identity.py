"""Members in the console: the list (filters, 打标签 / 移除标签, export) and the member page.

The page is read-only — profile, loyalty snapshot, tags, segments, RFM group, addresses, the
points / growth / card history and the audit trail of operator changes — with one button that
calls a service: 修改生日 (customer service, with a reason). Tokens and session_key never appear.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from import_export.admin import ExportMixin

from core.admin import (
    ExportFieldsForm,
    ExportPermissionMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    log_operator_write,
    operator_history,
    phone_display,
    request_operator,
    short_time,
    yuan_text,
)
from core.errors import DomainError
from core.resources import FILE_FORMATS
from members.admin.cards import MemberCardPeriodInline
from members.admin.points import LatestRowsFormSet, PointsEntryInline, PointsLotInline
from members.admin.tags import MemberTagActionsMixin
from members.admin.tiers import GrowthEntryInline, TierChangeInline
from members.models import Address, Member, MemberAudit, SegmentMember
from members.resources import MemberExportResource
from members.segments import RFM_GROUPS, rfm_group_of
from members.services import member_birthday_change_by_operator


class AddressInline(ReadOnlyInline):
    model = Address
    fields = readonly_fields = ("receiver_name", "phone_shown", "province", "city", "district", "detail",
                                "is_default")

    phone_shown = phone_display("phone", "手机号")


class RecentGrowthEntryInline(GrowthEntryInline):
    formset = LatestRowsFormSet


class MemberAuditInline(ReadOnlyInline):
    """The audit trail: what operators (and the member's own deletion) changed, newest first."""

    model = MemberAudit
    formset = LatestRowsFormSet
    fields = readonly_fields = ("created", "action", "change_text", "note", "operator")
    ordering = ["-id"]
    verbose_name_plural = "操作日志"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("operator")

    @admin.display(description="时间")
    def created(self, row: MemberAudit) -> str:
        return short_time(row.created_at)

    @admin.display(description="变更")
    def change_text(self, row: MemberAudit) -> str:
        parts = []
        for name, value in (row.changes or {}).items():
            label = {"birthday": "生日", "tag": "标签"}.get(name, name)
            if isinstance(value, list) and len(value) == 2:
                parts.append(f"{label}：{value[0] or '空'} → {value[1] or '空'}")
            else:
                parts.append(f"{label}：{value}")
        return "；".join(parts) or "—"


class BirthdayChangeForm(forms.Form):
    birthday = forms.DateField(label="新生日", required=False, help_text="格式 1990-01-31；留空表示清除生日",
                               widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="修改原因", max_length=200,
                           widget=forms.Textarea(attrs={"rows": 3, "cols": 60,
                                                        "placeholder": "如 会员来电核实身份证，工单号 12345"}))


@admin.register(Member)
class MemberAdmin(MemberTagActionsMixin, ExportPermissionMixin, ExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    resource_classes = [MemberExportResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    change_form_template = "admin/members/member/change_form.html"
    list_display = ["avatar", "nickname_or_id", "phone_shown", "tier", "points_balance", "paid_total", "region",
                    "registered", "is_active"]
    list_display_links = ["avatar", "nickname_or_id"]
    list_filter = ["tier", "gender", "member_tags__tag", "is_active",
                   ("registered_at", admin.DateFieldListFilter)]
    list_select_related = ["tier"]
    search_fields = ["=id", "nickname", "=phone", "=openid"]
    search_help_text = "按会员 ID、昵称、手机号或 OpenID 搜索"
    date_hierarchy = "registered_at"
    show_full_result_count = False
    list_per_page = 50
    actions = ["add_tag", "remove_tag"]
    # An explicit list, so a field added to Member later (or session_key) is never shown by default.
    fieldsets = [
        ("资料", {"fields": [("avatar", "nickname"), ("phone_shown", "gender"), ("birthday", "birthday_set_at"),
                             ("province", "city"), ("openid", "unionid"), ("is_active", "deleted_at"),
                             ("registered_at", "last_login_at")]}),
        ("会员权益", {"fields": [("tier", "growth", "points_balance"),
                                 ("paid_order_count", "paid_total", "last_paid_at"), "rfm_group", "orders_link"]}),
        ("标签与人群", {"fields": ["tags", "segments"]}),
        # Who did what: the console's writes; the services' own audit rows are in 操作日志 below.
        ("后台操作记录", {"fields": ["admin_history"]}),
    ]
    readonly_fields = ("avatar", "nickname", "phone_shown", "gender", "birthday", "birthday_set_at", "province", "city",
                       "openid", "unionid", "is_active", "deleted_at", "registered_at", "last_login_at", "tier",
                       "growth", "points_balance", "paid_order_count", "paid_total", "last_paid_at", "rfm_group",
                       "orders_link", "tags", "segments", "admin_history")
    inlines = [AddressInline, PointsLotInline, PointsEntryInline, RecentGrowthEntryInline, TierChangeInline,
               MemberCardPeriodInline, MemberAuditInline]

    phone_shown = phone_display("phone", "手机号")

    @admin.display(description="后台操作")
    def admin_history(self, member: Member) -> str:
        return operator_history(member)

    def get_urls(self) -> list[Any]:
        custom = [path("<path:object_id>/birthday/", self.admin_site.admin_view(self.birthday_view),
                       name="members_member_birthday")]
        return custom + super().get_urls()

    def has_birthday_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.change_member")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"can_change_birthday": self.has_birthday_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def birthday_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """修改生日 (customer service): a new birthday (or none) and a reason; audit row by the service."""
        if not self.has_birthday_permission(request):
            raise PermissionDenied
        member = self.get_object(request, unquote(object_id))
        if member is None:
            messages.warning(request, "会员不存在")
            return HttpResponseRedirect(reverse("admin:members_member_changelist"))
        form = BirthdayChangeForm(request.POST or None, initial={"birthday": member.birthday})
        if request.method == "POST" and form.is_valid():
            try:
                member_birthday_change_by_operator(member_id=member.pk, birthday=form.cleaned_data["birthday"],
                                                   note=form.cleaned_data["note"], operator=request_operator(request))
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"已修改 {member} 的生日")
                log_operator_write(request, member, f"修改生日：{form.cleaned_data['note']}")
                return HttpResponseRedirect(reverse("admin:members_member_change", args=[member.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"修改生日：{member}",
            "action_title": "修改生日",
            "button": "保存生日",
            "danger": False,
            "opts": self.opts,
            "object_id": member.pk,
            "member": member,
            "form": form,
        }
        return TemplateResponse(request, "admin/members/member/birthday_form.html", context)

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        return f"members-{timezone.localtime():%Y%m%d-%H%M}.{file_format.get_extension()}"


    # --- columns -------------------------------------------------------------------------------

    @admin.display(description="头像")
    def avatar(self, member: Member) -> str:
        if not member.avatar_url:
            return mark_safe('<span class="mall-thumb mall-thumb-empty">无</span>')
        return format_html('<img src="{}" class="mall-thumb mall-avatar" width="32" height="32" alt="" '
                           'loading="lazy" referrerpolicy="no-referrer">', member.avatar_url)

    @admin.display(description="昵称", ordering="nickname")
    def nickname_or_id(self, member: Member) -> str:
        return str(member)

    @admin.display(description="地区")
    def region(self, member: Member) -> str:
        return f"{member.province} {member.city}".strip() or "—"

    @admin.display(description="累计支付", ordering="paid_total_fen")
    def paid_total(self, member: Member) -> str:
        return yuan_text(member.paid_total_fen)

    @admin.display(description="注册时间", ordering="registered_at")
    def registered(self, member: Member) -> str:
        return short_time(member.registered_at)

    @admin.display(description="RFM 分组")
    def rfm_group(self, member: Member) -> str:
        return RFM_GROUPS[rfm_group_of(member=member)][1]

    @admin.display(description="标签")
    def tags(self, member: Member) -> str:
        rows = member.member_tags.select_related("tag").order_by("tag__name")
        if not rows:
            return "—"
        badge = '<span class="mall-status" style="--mall-status:#1f6fb2">{}</span>'
        return format_html_join(" ", badge, ((row.tag.name,) for row in rows))

    @admin.display(description="所在人群")
    def segments(self, member: Member) -> str:
        rows = (SegmentMember.objects.filter(member=member).select_related("segment")
                .order_by("segment__name"))
        if not rows:
            return "—"
        return format_html_join(
            "、", '<a href="{}">{}</a>',
            ((reverse("admin:members_segment_change", args=[row.segment_id]), row.segment.name) for row in rows))

    @admin.display(description="订单")
    def orders_link(self, member: Member) -> str:
        url = reverse("admin:shop_order_changelist") + f"?member__id__exact={member.pk}"
        return format_html('<a href="{}">查看该会员的订单</a>', url)
