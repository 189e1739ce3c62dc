"""Growth tiers in the console: the tiers and their benefits, the growth rules, the growth ledger
(with operator adjustments, 后台调整) and the tier history.

Inlines for the member detail page (members/admin/identity.py): GrowthEntryInline, TierChangeInline.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from core.admin import ReadOnlyAdminMixin, ReadOnlyInline, YuanFormField, money_display, request_operator, short_time
from core.errors import DomainError
from core.jobs import enqueue_after_commit
from members.models import GrowthEntry, GrowthRule, Member, Tier, TierChange
from members.services.growth import growth_adjust


class SingletonAdmin(admin.ModelAdmin):
    """A settings row (pk=1): the list page opens the one row; it cannot be added or deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self.model._default_manager.get_or_create(pk=1)
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[1]))

    def response_change(self, request: HttpRequest, obj: Model) -> HttpResponse:
        messages.success(request, f"{self.model._meta.verbose_name}已保存")
        return HttpResponseRedirect(request.path)


# ---------------------------------------------------------------------------------------------
# Tiers


class TierForm(forms.ModelForm):
    free_shipping_threshold_fen = YuanFormField(label="包邮门槛（元）", required=False, empty_fen=None,
                                                help_text="订单满此金额包邮；留空表示无此权益，0 表示全部包邮")

    class Meta:
        model = Tier
        fields = ["name", "level", "min_growth", "discount_percent", "free_shipping_threshold_fen",
                  "birthday_gift", "priority_service", "early_access"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    form = TierForm
    list_display = ["name", "level", "min_growth", "discount_percent", "free_shipping_threshold_yuan",
                    "birthday_gift", "priority_service", "early_access"]
    list_display_links = ["name"]
    ordering = ["level"]
    actions = ["recompute_member_tiers"]
    free_shipping_threshold_yuan = money_display("free_shipping_threshold_fen", "包邮门槛")

    @admin.action(description="按当前成长值重新计算全部会员的等级（后台任务）")
    def recompute_member_tiers(self, request: HttpRequest, queryset: QuerySet[Tier]) -> None:
        enqueue_after_commit("members.tasks.recompute_member_tiers")
        messages.success(request, "已开始重新计算会员等级，完成后会员列表中的等级即为最新")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A tier members are in cannot go (the foreign key protects it); an empty one may.
        if obj is not None and Member.objects.filter(tier=obj).exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(GrowthRule)
class GrowthRuleAdmin(SingletonAdmin):
    fields = ["per_yuan", "per_review", "per_signin", "updated_at"]
    readonly_fields = ["updated_at"]


# ---------------------------------------------------------------------------------------------
# The growth ledger and operator adjustments


class GrowthAdjustForm(forms.Form):
    member = forms.ModelChoiceField(label="会员", queryset=Member.objects.all(),
                                    widget=AutocompleteSelect(GrowthEntry._meta.get_field("member"), admin.site))
    delta = forms.IntegerField(label="调整成长值", help_text="正数为增加，负数为扣减；扣减后不能小于 0",
                               min_value=-10**9, max_value=10**9)
    note = forms.CharField(label="调整原因", max_length=200, widget=forms.TextInput(attrs={"size": 50}))

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError("调整值不能为 0")
        return int(delta)


@admin.register(GrowthEntry)
class GrowthEntryAdmin(admin.ModelAdmin):
    """The ledger is read-only; "增加" opens the adjustment form, which calls growth_adjust()."""

    list_display = ["created", "member", "reason", "delta_signed", "growth_after", "reference", "note", "operator"]
    list_filter = ["reason", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=reference", "=member__phone", "member__nickname"]
    search_help_text = "按关联单号、会员手机号或昵称搜索"
    list_select_related = ["member", "operator"]
    show_full_result_count = False
    list_per_page = 50
    fields = readonly_fields = ("member", "reason", "delta", "growth_after", "reference", "reverses_reference", "note",
                                "operator", "created_at")

    @admin.display(description="时间", ordering="created_at")
    def created(self, entry: GrowthEntry) -> str:
        return short_time(entry.created_at)

    @admin.display(description="变动", ordering="delta")
    def delta_signed(self, entry: GrowthEntry) -> str:
        return f"{entry.delta:+d}"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
                 ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {"member": request.GET.get("member")} if request.GET.get("member") else {}
        form = GrowthAdjustForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                change = growth_adjust(member_id=data["member"].pk, delta=data["delta"], note=data["note"],
                                       operator=request_operator(request))
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                tier_note = "，等级已变更" if change.tier_changed else ""
                messages.success(request, f"会员「{data['member']}」成长值已调整 {change.delta:+d}，"
                                          f"当前 {change.growth}{tier_note}")
                return HttpResponseRedirect(reverse("admin:members_growthentry_changelist"))
        context = {**self.admin_site.each_context(request), "title": "调整成长值", "opts": self.opts, "form": form,
                   "media": self.media + form.media}
        return TemplateResponse(request, "admin/members/growthentry/adjust.html", context)


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created", "member", "from_tier", "to_tier", "growth"]
    list_filter = ["to_tier", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=member__phone", "member__nickname"]
    list_select_related = ["member", "from_tier", "to_tier"]
    show_full_result_count = False

    @admin.display(description="时间", ordering="created_at")
    def created(self, change: TierChange) -> str:
        return short_time(change.created_at)


# ---------------------------------------------------------------------------------------------
# Inlines for the member detail page


class GrowthEntryInline(ReadOnlyInline):
    model = GrowthEntry
    verbose_name_plural = "成长值流水（最近）"
    fields = readonly_fields = ("created_at", "reason", "delta", "growth_after", "reference", "note", "operator")
    ordering = ["-id"]


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    verbose_name_plural = "等级变动"
    fields = readonly_fields = ("created_at", "from_tier", "to_tier", "growth")
    ordering = ["-id"]
