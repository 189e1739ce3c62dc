"""The order console's shipping pieces: 发货 in packages, 批量导入发货, and the WeChat upload state.

Mixed into OrderAdmin (shop/admin/orders.py). Every write goes through a service:
shipment_create (packages), shipment_import_apply (a file), shipping_upload_requeue (重新上传).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import log_operator_write, request_operator, short_time, yuan_text
from core.errors import DomainError
from shop.admin.forms import ShipPackagesForm, ShippingImportForm
from shop.admin.order_status import status_badge
from shop.admin.shipping_import import (
    failed_report_csv,
    failed_report_token,
    read_rows,
    rows_from_token,
    rows_token,
)
from shop.models import LogisticsState, Order, Shipment, ShippingInfoUpload, ShippingUploadState
from shop.services.shipping import PackageInput, shipment_create, units_to_ship
from shop.services.shipping_import import shipment_import_apply, shipment_import_preview
from shop.services.shipping_upload import shipping_upload_requeue

UPLOAD_COLOURS: dict[str, str] = {
    ShippingUploadState.PENDING: "#b26a00",
    ShippingUploadState.UPLOADED: "#2e7d32",
    ShippingUploadState.FAILED: "#c0392b",
}


def upload_badge(upload: ShippingInfoUpload | None) -> str:
    if upload is None:
        return ""
    return format_html('<span class="mall-status" style="--mall-status:{}" title="{}">{}</span>',
                       UPLOAD_COLOURS.get(upload.state, "#777"), upload.last_error, upload.get_state_display())


def order_upload(order: Order) -> ShippingInfoUpload | None:
    try:
        return order.shipping_upload
    except ShippingInfoUpload.DoesNotExist:
        return None


class ShippingUploadFilter(admin.SimpleListFilter):
    """微信发货信息: failed uploads are the ones an operator must look at."""

    title = "微信发货信息"
    parameter_name = "shipping_upload"
    NONE = "none"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*ShippingUploadState.choices, (self.NONE, "无需上传")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value == self.NONE:
            return queryset.filter(shipping_upload__isnull=True)
        if value in ShippingUploadState.values:
            return queryset.filter(shipping_upload__state=value)
        return queryset


class ShipmentInlineMixin:
    """Columns of the packages inline: what is in each package and where it is."""

    fields: Any = ("carrier", "tracking_no", "contents", "logistics", "tracked", "operator", "shipped_at")
    readonly_fields: Any = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("operator").prefetch_related(  # type: ignore[misc]
            "lines__order_line")

    @admin.display(description="包裹商品")
    def contents(self, shipment: Shipment) -> str:
        items = [(f"{sl.order_line.product_name} {sl.order_line.spec_text}".strip(), sl.quantity)
                 for sl in shipment.lines.all()]
        if not items:
            return "—"
        return format_html_join("；", "{} × {}", items)

    @admin.display(description="物流状态")
    def logistics(self, shipment: Shipment) -> str:
        label = LogisticsState(shipment.logistics_state).label if shipment.logistics_state in LogisticsState.values \
            else shipment.logistics_state
        latest = shipment.checkpoints[0]["text"] if shipment.checkpoints else ""
        if latest:
            return format_html('{}<br><span class="help">{}</span>', label, latest)
        return label

    @admin.display(description="轨迹更新")
    def tracked(self, shipment: Shipment) -> str:
        return short_time(shipment.tracked_at)


class OrderShippingAdminMixin:
    """Views, a column, a filter and an action for OrderAdmin; needs its has_operate_permission."""

    admin_site: Any
    opts: Any

    # --- list ---------------------------------------------------------------------------------

    @admin.display(description="微信发货", ordering="shipping_upload__state")
    def upload_state(self, order: Order) -> str:
        return upload_badge(order_upload(order))

    @admin.action(description="重新上传所选订单的微信发货信息", permissions=["operate"])
    def requeue_shipping_upload(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        count = shipping_upload_requeue(order_ids=ids, operator=request_operator(request))
        skipped = len(ids) - count
        self.message_user(request, f"已重新提交 {count} 个订单的发货信息上传", messages.SUCCESS)  # type: ignore[attr-defined]
        if skipped:
            self.message_user(request, f"{skipped} 个订单的上传不是“上传失败”状态，已跳过",  # type: ignore[attr-defined]
                              messages.WARNING)

    # --- order page ---------------------------------------------------------------------------

    @admin.display(description="发货进度")
    def shipping_progress(self, order: Order) -> str:
        lines = list(order.lines.all())
        owed = sum(max(0, line.quantity - line.refunded_quantity) for line in lines)
        shipped = sum(line.shipped_quantity for line in lines)
        packages = order.shipments.count()
        if not packages:
            return "未发货"
        return f"已发 {shipped} / {owed} 件，共 {packages} 个包裹"

    @admin.display(description="微信发货信息")
    def upload_detail(self, order: Order) -> str:
        upload = order_upload(order)
        if upload is None:
            return "无需上传（未发货或非微信支付）"
        parts = [upload_badge(upload), format_html("尝试 {} 次", upload.attempts)]
        if upload.uploaded_at and upload.state == ShippingUploadState.UPLOADED:
            parts.append(format_html("上传于 {}", short_time(upload.uploaded_at)))
        if upload.next_attempt_at and upload.state != ShippingUploadState.UPLOADED:
            parts.append(format_html("下次尝试 {}", short_time(upload.next_attempt_at)))
        if upload.last_error:
            parts.append(format_html('<span style="color:#c0392b">最近错误：{}</span>', upload.last_error))
        return format_html_join("　", "{}", ((p,) for p in parts))

    # --- 发货 (packages) ------------------------------------------------------------------------

    def ship_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the package form (?packages=N columns). POST: ship through shipment_create."""
        if not self.has_operate_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        left = units_to_ship(order_id=order.pk, lines=order.lines.all())
        lines = [(line, left[line.pk]) for line in order.lines.all()]
        wanted = request.GET.get("packages", "1")
        form = ShipPackagesForm(request.POST if request.method == "POST" else None, lines=lines,
                                packages=int(wanted) if wanted.isdigit() else 1)
        if request.method == "POST" and form.is_valid():
            packages = [PackageInput(p["carrier"], p["tracking_no"], p["lines"])
                        for p in form.cleaned_data["package_list"]]
            try:
                result = shipment_create(order=order, packages=packages, operator=request_operator(request))
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                self._ship_message(request, result)
                if result.created:
                    log_operator_write(request, order, "发货：" + "；".join(
                        f"{p.carrier} {p.tracking_no}" for p in packages))
                return HttpResponseRedirect(reverse("admin:shop_order_change", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"发货：{order.order_no}",
            "opts": self.opts,
            "order": order,
            "status": status_badge(order),
            "payable": yuan_text(order.payable_fen),
            "form": form,
            "layout": form.layout(),
            "shipments": order.shipments.prefetch_related("lines__order_line").order_by("id"),
            "more_packages": form.package_count + 1 if form.package_count < form.MAX_PACKAGES else None,
            "fewer_packages": form.package_count - 1 if form.package_count > 1 else None,
            "nothing_left": not any(remaining for _, remaining in lines),
        }
        return TemplateResponse(request, "admin/shop/order/ship_form.html", context)

    def _ship_message(self, request: HttpRequest, result: Any) -> None:
        order = result.order
        if not result.created:
            messages.warning(request, f"订单 {order.order_no} 的这些包裹已发过货，没有重复发货")
        elif result.complete:
            count = len(result.created)
            suffix = f"（本次 {count} 个包裹）" if count > 1 else ""
            messages.success(request, f"订单 {order.order_no} 已发货{suffix}")
        else:
            left = sum(units_to_ship(order_id=order.pk).values())
            messages.success(request, f"订单 {order.order_no} 已部分发货：本次 {len(result.created)} 个包裹，"
                                      f"还有 {left} 件待发")

    # --- 批量导入发货 -------------------------------------------------------------------------

    def shipping_import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload → preview (a dry run, nothing changes) → confirm (each valid row shipped)."""
        if not self.has_operate_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        if request.method == "POST" and "failed_report" in request.POST:
            return self._failed_report(request)
        form = ShippingImportForm()
        outcomes, stage, token, file_name = None, "upload", "", ""
        if request.method == "POST" and "confirm" in request.POST:
            try:
                rows = rows_from_token(request.POST.get("rows", ""))
            except ValidationError as exc:
                messages.error(request, exc.messages[0])
            else:
                outcomes = shipment_import_apply(rows=rows, operator=request_operator(request))
                stage = "done"
                shipped = sum(o.ok for o in outcomes)
                messages.success(request, f"已发货 {shipped} 个订单")
                if len(outcomes) > shipped:
                    messages.error(request, f"{len(outcomes) - shipped} 行发货失败，原因见下表")
        elif request.method == "POST":
            form = ShippingImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    rows = read_rows(upload)
                except ValidationError as exc:
                    form.add_error("file", exc)
                else:
                    outcomes = shipment_import_preview(rows=rows)
                    stage, file_name = "preview", upload.name
                    token = rows_token(o.row for o in outcomes if o.ok)
        context = {
            **self.admin_site.each_context(request),
            "title": "批量导入发货",
            "opts": self.opts,
            "form": form,
            "stage": stage,
            "outcomes": outcomes,
            "file_name": file_name,
            "rows_token": token,
            "ok_count": sum(o.ok for o in outcomes) if outcomes else 0,
            "failed_count": sum(not o.ok for o in outcomes) if outcomes else 0,
            "failed_token": failed_report_token(outcomes) if outcomes else "",
        }
        return TemplateResponse(request, "admin/shop/order/shipping_import.html", context)

    def _failed_report(self, request: HttpRequest) -> HttpResponse:
        try:
            body = failed_report_csv(request.POST.get("failed_report", ""))
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return HttpResponseRedirect(reverse("admin:shop_order_shipping_import"))
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = HttpResponse(("\ufeff" + body).encode("utf-8"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="shipping-import-failed-{stamp}.csv"'
        return response

