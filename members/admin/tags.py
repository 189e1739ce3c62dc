"""Tags in the console: the tag list, member tags with import (dry-run preview) and export, and the
打标签 / 移除标签 actions on the member list (MemberTagActionsMixin, used by the member admin).
Every change goes through members.services.segments (tag_add / tag_remove), which writes audit rows.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ImportExportMixin

from core.admin import ExportFieldsForm, log_operator_write, request_operator, short_time
from core.errors import DomainError
from core.resources import FILE_FORMATS
from members.models import MemberTag, Tag
from members.resources import MemberTagResource
from members.services.segments import tag_add, tag_get_or_create, tag_remove


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "members_link", "created"]
    search_fields = ["name"]
    fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(member_total=Count("member_tags"))

    @admin.display(description="会员数", ordering="member_total")
    def members_link(self, tag: Tag) -> str:
        url = reverse("admin:members_member_changelist") + f"?member_tags__tag__id__exact={tag.pk}"
        return format_html('<a href="{}">{} 人</a>', url, getattr(tag, "member_total", 0))

    @admin.display(description="创建时间", ordering="created_at")
    def created(self, tag: Tag) -> str:
        return short_time(tag.created_at)


@admin.register(MemberTag)
class MemberTagAdmin(ImportExportMixin, admin.ModelAdmin):
    """Who has which tag; import a file of (member, tag) rows, export for a spreadsheet."""

    resource_classes = [MemberTagResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    list_display = ["member_link", "tag", "operator", "created"]
    list_filter = ["tag"]
    list_select_related = ["member", "tag", "operator"]
    search_fields = ["=member__id", "member__nickname", "=member__phone", "tag__name"]
    search_help_text = "按会员 ID、昵称、手机号或标签搜索"
    show_full_result_count = False
    actions = ["remove_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # removal is the action below (through the service, with audit rows)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.add_membertag")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.view_membertag")

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        return f"member-tags-{timezone.localtime():%Y%m%d-%H%M}.{file_format.get_extension()}"

    @admin.display(description="会员", ordering="member_id")
    def member_link(self, row: MemberTag) -> str:
        url = reverse("admin:members_member_change", args=[row.member_id])
        return format_html('<a href="{}">{}（ID {}）</a>', url, row.member, row.member_id)

    @admin.display(description="打标时间", ordering="created_at")
    def created(self, row: MemberTag) -> str:
        return short_time(row.created_at)

    @admin.action(description="移除所选的会员标签", permissions=["remove"])
    def remove_selected(self, request: HttpRequest, queryset: QuerySet[MemberTag]) -> None:
        removed = 0
        for tag_id in set(queryset.values_list("tag_id", flat=True)):
            tag = Tag.objects.get(pk=tag_id)
            member_ids = queryset.filter(tag_id=tag_id).values_list("member_id", flat=True)
            removed += tag_remove(tag=tag, member_ids=member_ids, operator=request_operator(request))
        self.message_user(request, f"已移除 {removed} 个会员标签", messages.SUCCESS)

    def has_remove_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.delete_membertag")


class TagActionForm(forms.Form):
    tag = forms.ModelChoiceField(label="已有标签", queryset=Tag.objects.all(), required=False,
                                 empty_label="（选择标签）")
    new_tag = forms.CharField(label="或新建标签", max_length=32, required=False,
                              widget=forms.TextInput(attrs={"placeholder": "如 高价值客户"}))

    def __init__(self, *args: Any, allow_new: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not allow_new:
            del self.fields["new_tag"]
            self.fields["tag"].label = "标签"

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("tag") and not (data.get("new_tag") or "").strip():
            raise forms.ValidationError("请选择标签" + ("或填写新标签名" if "new_tag" in self.fields else ""))
        return data


class MemberTagActionsMixin:
    """打标签 / 移除标签 for the selected members: a small form for the tag, then the service."""

    @admin.action(description="打标签", permissions=["tag"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._tag_action(request, queryset, adding=True)

    @admin.action(description="移除标签", permissions=["tag"])
    def remove_tag(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self._tag_action(request, queryset, adding=False)

    def has_tag_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.add_membertag")

    def _tag_action(self, request: HttpRequest, queryset: QuerySet[Any], *, adding: bool) -> HttpResponse | None:
        form = TagActionForm(request.POST if "apply" in request.POST else None, allow_new=adding)
        if "apply" in request.POST and form.is_valid():
            try:
                tag = form.cleaned_data.get("tag") or tag_get_or_create(name=form.cleaned_data["new_tag"])
                ids = list(queryset.values_list("pk", flat=True))
                service = tag_add if adding else tag_remove
                changed = service(tag=tag, member_ids=ids, operator=request_operator(request))
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)  # type: ignore[attr-defined]
                return None
            verb = "打上" if adding else "移除"
            log_operator_write(request, list(queryset), f"{verb}标签“{tag.name}”")
            self.message_user(request, f"已为 {changed} 位会员{verb}标签“{tag.name}”"  # type: ignore[attr-defined]
                              f"（所选 {len(ids)} 位）", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": "为所选会员打标签" if adding else "移除所选会员的标签",
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "form": form,
            "members": queryset[:20],
            "count": queryset.count(),
            "action": "add_tag" if adding else "remove_tag",
            "button": "打标签" if adding else "移除标签",
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/members/member/tag_action.html", context)
