"""Redemption codes console (兑换码): batches made by 生成 or 导入 (with a preview), exported for partners.

Batches are created only through campaigns.services.codes (code_batch_generate / code_batch_import:
all or nothing); the console shows what a file would import before anything is written, and
exports a batch's codes with whether each was redeemed.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from import_export.admin import ExportMixin

from campaigns.admin.base import GREEN, progress_bar
from campaigns.admin.forms import CodeGenerateForm, CodeImportForm
from campaigns.admin.uploads import Row, read_column, sign, unsign
from campaigns.models import CodeBatch, CouponTemplate, RedeemCode
from campaigns.resources import RedeemCodeResource, codes_file
from campaigns.selectors.stats import code_batches_with_stats, redeem_codes_existing
from campaigns.services.codes import CODE_FORMAT, REASONS, code_batch_generate, code_batch_import, code_normalise
from core.admin import ExportFieldsForm, ReadOnlyAdminMixin, request_operator, short_time
from core.errors import DomainError
from core.resources import FILE_FORMATS

IMPORT_SALT = "campaigns.admin.codes.import"
PREVIEW_LISTED = 200


def _filename(batch: CodeBatch, extension: str) -> str:
    name = re.sub(r'[\\/:*?"<>|\s]+', "_", batch.name).strip("_.") or f"batch-{batch.pk}"
    return f"兑换码-{name}.{extension}"


@admin.register(CodeBatch)
class CodeBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/campaigns/codebatch/change_list.html"
    list_display = ["name", "partner", "template", "origin", "redeemed", "creator", "created", "exports"]
    list_filter = ["origin", ("template", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["template", "created_by"]
    search_fields = ["name", "partner"]
    search_help_text = "按批次名称或合作方搜索"
    show_full_result_count = False
    list_per_page = 50
    fields = readonly_fields = ("name", "partner", "template", "origin", "redeemed", "created_by", "created_at",
                                "exports", "sample")

    def get_queryset(self, request: HttpRequest) -> Any:
        return code_batches_with_stats(super().get_queryset(request))

    def has_create_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.add_codebatch")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {"can_create": self.has_create_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.display(description="已兑换 / 总数")
    def redeemed(self, batch: CodeBatch) -> str:
        done, total = batch.stat_redeemed, batch.stat_total  # type: ignore[attr-defined]
        return format_html("{} / {} {}", done, total, progress_bar(done, total, colour=GREEN, width=60))

    @admin.display(description="创建人", ordering="created_by__username")
    def creator(self, batch: CodeBatch) -> str:
        return str(batch.created_by) if batch.created_by else "—"

    @admin.display(description="创建时间", ordering="created_at")
    def created(self, batch: CodeBatch) -> str:
        return short_time(batch.created_at)

    @admin.display(description="导出")
    def exports(self, batch: CodeBatch) -> str:
        return format_html(
            '<a href="{}" class="mall-button-link">CSV</a> <a href="{}" class="mall-button-link">XLSX</a>',
            reverse("admin:campaigns_codebatch_export", args=[batch.pk, "csv"]),
            reverse("admin:campaigns_codebatch_export", args=[batch.pk, "xlsx"]))

    @admin.display(description="兑换码（前 20 个）")
    def sample(self, batch: CodeBatch) -> str:
        codes = list(batch.codes.order_by("id").values_list("code", "redeemed_by_id")[:20])
        if not codes:
            return "—"
        listed = ", ".join(f"{code}{'（已兑换）' if member else ''}" for code, member in codes)
        link = reverse("admin:campaigns_redeemcode_changelist") + f"?batch__id__exact={batch.pk}"
        return format_html('{} <a href="{}">查看全部</a>', listed, link)

    # --- 生成 / 导入 / 导出 ----------------------------------------------------------------------

    def get_urls(self) -> list:
        def view(func: Any) -> Any:
            return self.admin_site.admin_view(func)

        custom = [
            path("generate/", view(self.generate_view), name="campaigns_codebatch_generate"),
            path("import/", view(self.import_view), name="campaigns_codebatch_import"),
            path("<path:object_id>/export/<str:file_format>/", view(self.export_view),
                 name="campaigns_codebatch_export"),
        ]
        return custom + super().get_urls()

    def _page(self, request: HttpRequest, page_template: str, title: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(request, page_template, {
            **self.admin_site.each_context(request), "title": title, "opts": self.opts, **context})

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_create_permission(request):
            raise PermissionDenied
        form = CodeGenerateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                batch = code_batch_generate(template_id=data["template"].pk, name=data["name"],
                                            partner=data["partner"], quantity=data["quantity"],
                                            operator=request_operator(request))
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"已生成 {batch.quantity} 个兑换码（批次“{batch.name}”）", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:campaigns_codebatch_change", args=[batch.pk]))
        return self._page(request, "admin/campaigns/codebatch/generate.html", "生成兑换码", form=form)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload → preview (nothing written) → 确认导入 (code_batch_import, all or nothing)."""
        if not self.has_create_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._import_confirm(request)
        form = CodeImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                rows = read_column(form.cleaned_data["file"])
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                return self._import_preview(request, form.cleaned_data, rows)
        return self._page(request, "admin/campaigns/codebatch/import.html", "导入兑换码", stage="upload", form=form)

    def _import_preview(self, request: HttpRequest, data: dict[str, Any], rows: list[Row]) -> HttpResponse:
        codes = [row.value.strip().upper() for row in rows]
        seen: set[str] = set()
        problems: list[dict[str, Any]] = []
        for row, code in zip(rows, codes, strict=True):
            reason = "format" if not CODE_FORMAT.fullmatch(code) else "duplicate" if code in seen else ""
            seen.add(code)
            if reason:
                problems.append({"row": row.row_no, "code": row.value, "message": REASONS[reason]})
        existing = redeem_codes_existing(codes=sorted(seen))
        problems += [{"row": row.row_no, "code": row.value, "message": REASONS["exists"]}
                     for row, code in zip(rows, codes, strict=True) if code in existing]
        problems.sort(key=lambda p: p["row"])
        token = sign({"template_id": data["template"].pk, "name": data["name"], "partner": data["partner"],
                      "codes": codes, "rows": [row.row_no for row in rows]}, salt=IMPORT_SALT)
        return self._page(
            request, "admin/campaigns/codebatch/import.html", "导入兑换码：预览", stage="preview",
            file_name=data["file"].name, template=data["template"], name=data["name"], partner=data["partner"],
            total=len(rows), problems=problems[:PREVIEW_LISTED], problem_count=len(problems),
            sample=codes[:10], token=token if not problems else "")

    def _import_confirm(self, request: HttpRequest) -> HttpResponse:
        try:
            payload = unsign(request.POST["token"], salt=IMPORT_SALT)
        except ValidationError as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)
            return HttpResponseRedirect(reverse("admin:campaigns_codebatch_import"))
        try:
            batch = code_batch_import(template_id=payload["template_id"], name=payload["name"],
                                      partner=payload["partner"], codes=payload["codes"],
                                      operator=request_operator(request))
        except DomainError as exc:
            # The service numbers the rows of the list it got; show the file's row numbers.
            file_rows = payload["rows"]
            problems = [{"row": file_rows[p["row"] - 1] if 0 < p["row"] <= len(file_rows) else p["row"],
                         "code": p.get("code", ""), "message": p.get("message", "")}
                        for p in exc.detail.get("rows", [])]
            template = CouponTemplate.objects.filter(pk=payload["template_id"]).first()
            return self._page(
                request, "admin/campaigns/codebatch/import.html", "导入兑换码：失败", stage="failed",
                error=exc.message, template=template, name=payload["name"], partner=payload["partner"],
                total=len(payload["codes"]), problems=problems,
                problem_count=exc.detail.get("error_count", len(problems)), token="")
        self.message_user(request, f"已导入 {batch.quantity} 个兑换码（批次“{batch.name}”）", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_codebatch_change", args=[batch.pk]))

    def export_view(self, request: HttpRequest, object_id: str, file_format: str) -> HttpResponse:
        batch = self.get_object(request, unquote(object_id))
        if batch is None or file_format not in {"csv", "xlsx"}:
            raise Http404("批次不存在")
        content, content_type = codes_file(RedeemCode.objects.filter(batch=batch), file_format)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(True, _filename(batch, file_format)) or ""
        return response


@admin.register(RedeemCode)
class RedeemCodeAdmin(ReadOnlyAdminMixin, ExportMixin, admin.ModelAdmin):
    resource_classes = [RedeemCodeResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    to_encoding = "utf-8-sig"  # so Excel shows the Chinese in a CSV correctly
    list_display = ["code", "batch", "status", "redeemed_by", "redeemed"]
    list_filter = [("batch", admin.RelatedOnlyFieldListFilter), ("redeemed_by", admin.EmptyFieldListFilter)]
    list_select_related = ["batch", "redeemed_by"]
    search_fields = ["=code", "=redeemed_by__phone"]
    search_help_text = "按兑换码或会员手机号（完整）搜索"
    show_full_result_count = False
    list_per_page = 100

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        # Codes are stored upper-case without separators; find "abcd-efgh" as ABCDEFGH.
        term = search_term.strip()
        if term and not term.isdigit():
            term = code_normalise(term)
        return super().get_search_results(request, queryset, term)

    @admin.display(description="状态", boolean=False)
    def status(self, code: RedeemCode) -> str:
        return "已兑换" if code.redeemed_by_id else "未兑换"

    @admin.display(description="兑换时间", ordering="redeemed_at")
    def redeemed(self, code: RedeemCode) -> str:
        return short_time(code.redeemed_at)

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        return f"redeem-codes-{timezone.localtime():%Y%m%d-%H%M}.{file_format.get_extension()}"
