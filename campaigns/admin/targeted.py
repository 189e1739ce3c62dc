"""定向发券 console: a wizard (choose → 预览 → 确认发放) and a progress page for the background job.

The numbers come from campaigns.services.targeted: targeted_issue_preview() counts who would
receive the coupon; 确认发放 creates the issue and starts it (the job runs after commit, in a
Celery worker). Between the preview and the confirmation the choice travels as a signed token,
so what is issued is exactly what was previewed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from campaigns.admin.base import BLUE, GREEN, GREY, ORANGE, RED, badge, no_delete_selected, progress_bar
from campaigns.admin.forms import TargetedIssueForm
from campaigns.admin.uploads import read_column, sign, unsign
from campaigns.models import CouponTemplate, TargetedIssue
from campaigns.selectors.targets import IdKind, members_resolve
from campaigns.services.targeted import targeted_issue_create, targeted_issue_preview, targeted_issue_start
from core.admin import request_operator, short_time, yuan_text
from core.errors import DomainError
from members.models import Segment, Tag

WIZARD_SALT = "campaigns.admin.targeted.wizard"
REFRESH_SECONDS = 2
UNKNOWN_LISTED = 50
S = TargetedIssue.Status
STATUS_COLOURS: dict[str, str] = {S.DRAFT: GREY, S.QUEUED: ORANGE, S.RUNNING: BLUE, S.DONE: GREEN, S.FAILED: RED}


def target_text(issue: TargetedIssue) -> str:
    if issue.target == TargetedIssue.Target.SEGMENT:
        return f"人群：{issue.segment}" if issue.segment_id else "人群"
    if issue.target == TargetedIssue.Target.TAG:
        return f"标签：{issue.tag}" if issue.tag_id else "标签"
    return f"上传名单（{len(issue.member_ids)} 人）"


def room_text(template: CouponTemplate) -> str:
    """What the template can still hand out: its total quantity and budget left (from its row)."""
    parts = []
    if template.total_quantity is not None:
        parts.append(f"数量还剩 {max(0, template.total_quantity - template.issued_count)} 张")
    if template.budget_fen is not None:
        left = max(0, template.budget_fen - template.issued_value_fen)
        face = template.face_value_fen
        about = f"（约 {left // face} 张）" if face else ""
        parts.append(f"预算还剩 {yuan_text(left)}{about}")
    return "，".join(parts) or "不限数量、不限预算"


@admin.register(TargetedIssue)
class TargetedIssueAdmin(admin.ModelAdmin):
    change_list_template = "admin/campaigns/targetedissue/change_list.html"
    # The id opens the progress page (change_view redirects there).
    list_display = ["id", "template", "target_label", "status_label", "progress", "issued_count", "skipped",
                    "created"]
    list_display_links = ["id"]
    list_filter = ["status", "target"]
    list_select_related = ["template", "segment", "tag", "created_by"]
    search_fields = ["template__name"]
    search_help_text = "按券名称搜索"
    show_full_result_count = False
    list_per_page = 50

    def get_actions(self, request: HttpRequest) -> Any:
        return no_delete_selected(self, request, super().get_actions(request))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the progress page shows it; the job alone moves its counts

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A started issue has handed out coupons (or is about to): it stays as their record.
        return obj is not None and obj.status == S.DRAFT and super().has_delete_permission(request, obj)

    @admin.display(description="发放对象")
    def target_label(self, issue: TargetedIssue) -> str:
        return target_text(issue)

    @admin.display(description="状态", ordering="status")
    def status_label(self, issue: TargetedIssue) -> str:
        return badge(issue.get_status_display(), STATUS_COLOURS.get(issue.status, GREY))

    @admin.display(description="进度")
    def progress(self, issue: TargetedIssue) -> str:
        colour = GREEN if issue.status == S.DONE else BLUE
        return format_html("{} / {} {}", issue.processed_count, issue.targeted_count,
                           progress_bar(issue.processed_count, issue.targeted_count, colour=colour, width=60))

    @admin.display(description="跳过（已达上限 / 不符合条件）")
    def skipped(self, issue: TargetedIssue) -> str:
        return f"{issue.skipped_limit_count} / {issue.skipped_ineligible_count}"

    @admin.display(description="创建时间", ordering="created_at")
    def created(self, issue: TargetedIssue) -> str:
        return short_time(issue.created_at)

    # --- the wizard and the progress page -------------------------------------------------

    def get_urls(self) -> list:
        def view(func: Any) -> Any:
            return self.admin_site.admin_view(func)

        custom = [
            path("wizard/", view(self.wizard_view), name="campaigns_targetedissue_wizard"),
            path("<path:object_id>/progress/", view(self.progress_view), name="campaigns_targetedissue_progress"),
            path("<path:object_id>/start/", view(self.start_view), name="campaigns_targetedissue_start"),
        ]
        return custom + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:campaigns_targetedissue_wizard"))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:campaigns_targetedissue_progress", args=[object_id]))

    def _page(self, request: HttpRequest, page_template: str, title: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(request, page_template, {
            **self.admin_site.each_context(request), "title": title, "opts": self.opts, **context})

    def wizard_view(self, request: HttpRequest) -> HttpResponse:
        """选择 → 预览 (targeted_issue_preview) → 确认发放 (targeted_issue_create + targeted_issue_start)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._confirm(request)
        # A link may preselect the target (a segment just saved from a funnel's drop-offs).
        initial = {name: request.GET[name] for name in ("template", "target", "segment", "tag") if name in request.GET}
        form = TargetedIssueForm(request.POST or None, request.FILES or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            preview = self._preview(request, form)
            if preview is not None:
                return preview
        return self._page(request, "admin/campaigns/targetedissue/wizard.html", "定向发券", stage="choose",
                          form=form)

    def _preview(self, request: HttpRequest, form: TargetedIssueForm) -> HttpResponse | None:
        data = form.cleaned_data
        template: CouponTemplate = data["template"]
        target = data["target"]
        choice: dict[str, Any] = {"template_id": template.pk, "target": target, "segment_id": None, "tag_id": None,
                                  "member_ids": None}
        resolution = None
        if target == TargetedIssue.Target.SEGMENT:
            choice["segment_id"] = data["segment"].pk
        elif target == TargetedIssue.Target.TAG:
            choice["tag_id"] = data["tag"].pk
        else:
            try:
                rows = read_column(data["file"])
            except ValidationError as exc:
                form.add_error("file", exc)
                return None
            resolution = members_resolve(values=[row.value for row in rows], kind=data["id_kind"])
            if not resolution.member_ids:
                form.add_error("file", f"名单中的 {len(rows)} 行都没有找到对应的会员，请检查“名单内容”是否选对")
                return None
            choice["member_ids"] = resolution.member_ids
        try:
            preview = targeted_issue_preview(**choice)
        except DomainError as exc:
            form.add_error(None, exc.message)
            return None
        return self._page(
            request, "admin/campaigns/targetedissue/wizard.html", "定向发券：预览", stage="preview",
            template=template, target_label=self._choice_text(choice, data), preview=preview,
            resolution=resolution, unknown=(resolution.unknown[:UNKNOWN_LISTED] if resolution else []),
            room=room_text(template), missed=max(0, preview.targeted - preview.eligible_estimate),
            id_kind_label=dict(IdKind.CHOICES).get(data.get("id_kind") or "", ""),
            token=sign(choice, salt=WIZARD_SALT))

    @staticmethod
    def _choice_text(choice: dict[str, Any], data: dict[str, Any]) -> str:
        if choice["segment_id"]:
            segment: Segment = data["segment"]
            return f"会员人群：{segment.name}"
        if choice["tag_id"]:
            tag: Tag = data["tag"]
            return f"会员标签：{tag.name}"
        return f"上传名单：{data['file'].name}"

    def _confirm(self, request: HttpRequest) -> HttpResponse:
        try:
            choice = unsign(request.POST["token"], salt=WIZARD_SALT)
        except ValidationError as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)
            return HttpResponseRedirect(reverse("admin:campaigns_targetedissue_wizard"))
        operator = request_operator(request)
        try:
            issue = targeted_issue_create(**choice, operator=operator)
            issue = targeted_issue_start(issue_id=issue.pk, operator=operator)
        except DomainError as exc:
            self.message_user(request, f"发放失败：{exc.message}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:campaigns_targetedissue_wizard"))
        # Who confirmed is recorded here (targeted_issue_start keeps the issue's creator only).
        self.log_addition(request, issue, f"确认发放：{issue.template.name}，{issue.targeted_count} 人")
        self.message_user(request, f"已开始发放：共 {issue.targeted_count} 人，后台任务进行中", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_targetedissue_progress", args=[issue.pk]))

    def progress_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The job's counts; refreshes itself while the issue is queued or running."""
        issue = (TargetedIssue.objects.select_related("template", "segment", "tag", "created_by")
                 .filter(pk=unquote(object_id)).first())
        if issue is None or not self.has_view_permission(request, issue):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        live = issue.status in {S.QUEUED, S.RUNNING}
        skipped = issue.skipped_limit_count + issue.skipped_ineligible_count
        return self._page(
            request, "admin/campaigns/targetedissue/progress.html", f"定向发券 #{issue.pk}", issue=issue,
            target_label=target_text(issue), status=self.status_label(issue), live=live,
            refresh_seconds=REFRESH_SECONDS, skipped=skipped,
            percent=0 if not issue.targeted_count else min(100, issue.processed_count * 100 // issue.targeted_count),
            can_start=issue.status == S.DRAFT and self.has_add_permission(request),
            adds_up=issue.issued_count + skipped == issue.targeted_count)

    def start_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """确认发放 of a draft (an issue created but not started)."""
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        try:
            issue = targeted_issue_start(issue_id=int(unquote(object_id)), operator=request_operator(request))
        except (DomainError, ValueError) as exc:
            self.message_user(request, f"发放失败：{getattr(exc, 'message', exc)}", messages.ERROR)
        else:
            self.log_change(request, issue, f"确认发放：{issue.targeted_count} 人")
        return HttpResponseRedirect(reverse("admin:campaigns_targetedissue_progress", args=[object_id]))
