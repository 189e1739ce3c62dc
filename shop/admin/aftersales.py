"""After-sales console (售后): review requests, confirm returns, watch and retry refunds.

Read-only records plus buttons that call the services — 同意 / 拒绝 / 确认收到退货 on an after-sale,
重试 on a failed refund — so the console gets the same locks, transition tables, maker-checker
rule and audit rows (AfterSaleEvent, RefundEvent) as the API and the jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export.admin import ExportMixin

from core.admin import (
    AuditTrailInline,
    ExportFieldsForm,
    ExportPermissionMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceViewMixin,
    log_operator_write,
    money_display,
    request_operator,
    short_time,
    yuan_text,
)
from core.errors import DomainError
from core.privacy import console_phone
from core.resources import FILE_FORMATS
from shop.models import (
    AfterSale,
    AfterSaleEvent,
    AfterSaleStatus,
    Refund,
    RefundNotification,
    RefundStatus,
)
from shop.models.aftersales import AFTER_SALE_MACHINE, REFUND_MACHINE, RefundEvent
from shop.resources import RefundExportResource
from shop.services import aftersales as services
from shop.services import refunds as refund_services
from wechat.admin import member_photo

S = AfterSaleStatus
STATUS_COLOURS: dict[str, str] = {
    S.REQUESTED: "#c0392b",
    S.AWAITING_SECOND_APPROVAL: "#b26a00",
    S.AWAITING_RETURN: "#1f6fb2",
    S.RETURN_SHIPPED: "#8e44ad",
    S.REFUNDING: "#1f6fb2",
    S.REFUNDED: "#2e7d32",
    S.REJECTED: "#777",
    S.WITHDRAWN: "#777",
}
REFUND_COLOURS: dict[str, str] = {
    RefundStatus.PENDING: "#b26a00",
    RefundStatus.PROCESSING: "#1f6fb2",
    RefundStatus.SUCCEEDED: "#2e7d32",
    RefundStatus.FAILED: "#c0392b",
}
HINT_STYLE = "color: var(--body-quiet-color); font-size: 11px"


def pill(colour: str, text: str) -> str:
    return format_html('<span class="mall-status" style="--mall-status:{}">{}</span>', colour, text)


def after_sale_badge(after_sale: AfterSale) -> str:
    return pill(STATUS_COLOURS.get(after_sale.status, "#777"), after_sale.get_status_display())


def refund_badge(refund: Refund) -> str:
    return pill(REFUND_COLOURS.get(refund.status, "#777"), refund.get_status_display())


# --- forms -----------------------------------------------------------------------------------------


class ApproveForm(forms.Form):
    """Nothing to type: the page shows what is approved and the button confirms."""


class RejectForm(forms.Form):
    reason = forms.CharField(label="拒绝原因", max_length=200,
                             help_text="买家会在售后进度和订阅消息中看到",
                             widget=forms.Textarea(attrs={"rows": 3, "cols": 60,
                                                          "placeholder": "如 商品已拆封使用，不符合退货条件"}))


class ConfirmReturnForm(forms.Form):
    restock = forms.BooleanField(label="退回库存", required=False, initial=True,
                                 help_text="商品完好可再次销售时勾选；破损、已使用的商品请取消勾选")


# --- inlines ---------------------------------------------------------------------------------------


class AfterSaleRefundInline(ReadOnlyInline):
    model = Refund
    fields = readonly_fields = ("refund_link", "amount", "status_label", "attempts", "last_error", "created_at",
                                "succeeded_at")
    verbose_name_plural = "退款"

    amount = money_display("amount_fen", "金额")

    @admin.display(description="退款单号")
    def refund_link(self, refund: Refund) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:shop_refund_change", args=[refund.pk]),
                           refund.out_refund_no)

    @admin.display(description="状态")
    def status_label(self, refund: Refund) -> str:
        return refund_badge(refund)


class AfterSaleEventInline(AuditTrailInline):
    """The audit trail: every request, decision and refund step, by whom and when."""

    model = AfterSaleEvent
    verbose_name_plural = "处理记录"


# --- after-sales -----------------------------------------------------------------------------------


@admin.register(AfterSale)
class AfterSaleAdmin(ServiceViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/shop/aftersale/change_form.html"
    list_display = ["after_sale_no", "member_name", "kind", "status_label", "amount", "goods", "created"]
    list_filter = ["status", "kind", "reason", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["order", "member", "approved_by"]
    search_fields = ["=after_sale_no", "=order__order_no", "=member__phone", "=return_tracking_no"]
    search_help_text = "按售后单号、订单号、会员手机号或退货单号搜索（完整号码）"
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]

    fieldsets = [
        ("售后单", {"fields": [("after_sale_no", "status_label"), ("order_link", "member_link"),
                              ("kind", "reason_label"), "lines_table", "description", "photos", "reject_reason"]}),
        ("金额", {"fields": [("amount", "freight"), ("order_paid", "order_refunded", "order_refund_state"),
                            "restock_label"]}),
        ("审核", {"fields": [("approved_by", "second_approved_by"), "approval_rule"]}),
        ("退货物流", {"fields": [("return_carrier", "return_tracking_no")]}),
        ("时间", {"fields": [("created_at", "updated_at")]}),
    ]
    readonly_fields = [str(name) for _, opts in fieldsets for row in opts["fields"]
                       for name in (row if isinstance(row, tuple) else (row,))]
    inlines = [AfterSaleRefundInline, AfterSaleEventInline]

    amount = money_display("amount_fen", "退款金额")
    freight = money_display("freight_fen", "其中运费")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("lines__order_line", "refunds")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """Only what applies: no reject reason unless rejected, no return section for refund-only."""
        if obj is None:
            return self.fieldsets
        fieldsets = []
        for title, opts in self.fieldsets:
            if title == "退货物流" and obj.kind != "return_refund":
                continue
            rows = [row for row in opts["fields"] if row != "reject_reason" or obj.reject_reason]
            rows = [row for row in rows if row != "photos" or obj.photos.exists()]
            fieldsets.append((title, {"fields": rows}))
        return fieldsets

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        inlines = super().get_inline_instances(request, obj)
        if obj is not None and not obj.refunds.exists():
            inlines = [i for i in inlines if not isinstance(i, AfterSaleRefundInline)]
        return inlines

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """May use a button at all: the first review (同意 / 拒绝 / 确认收到退货) needs the model's change
        permission (the form stays read-only), the second approval of a large refund its own."""
        return request.user.has_perm("shop.change_aftersale") or request.user.has_perm(services.SECOND_APPROVE)

    def may_decide(self, request: HttpRequest, after_sale: AfterSale) -> bool:
        """Whether `request.user` takes the decision the after-sale waits for: the second approval is
        finance's (services.SECOND_APPROVE), everything else the reviewers' (change permission)."""
        if after_sale.status == S.AWAITING_SECOND_APPROVAL:
            return bool(request.user.has_perm(services.SECOND_APPROVE))
        return bool(request.user.has_perm("shop.change_aftersale"))

    # --- columns ---

    @admin.display(description="会员", ordering="member__nickname")
    def member_name(self, after_sale: AfterSale) -> str:
        return str(after_sale.member)

    @admin.display(description="状态", ordering="status")
    def status_label(self, after_sale: AfterSale) -> str:
        """The status, and what needs an operator's eye: a failed refund, a second approval."""
        badge = after_sale_badge(after_sale)
        if after_sale.status == S.REFUNDING and any(r.status == RefundStatus.FAILED for r in after_sale.refunds.all()):
            return format_html("{} {}", badge, pill(REFUND_COLOURS[RefundStatus.FAILED], "退款失败"))
        if after_sale.status == S.REQUESTED and services.after_sale_needs_second_approval(after_sale):
            return format_html('{} <span style="{}">需复核</span>', badge, HINT_STYLE)
        if after_sale.status == S.AWAITING_SECOND_APPROVAL and after_sale.approved_by is not None:
            return format_html('{} <span style="{}">初审 {}</span>', badge, HINT_STYLE, after_sale.approved_by)
        return badge

    @admin.display(description="商品")
    def goods(self, after_sale: AfterSale) -> str:
        rows = [(row.order_line.product_name, row.quantity) for row in after_sale.lines.all()]
        if not rows:
            return "—"
        name, quantity = rows[0]
        name = name if len(name) <= 12 else name[:11] + "…"
        return f"{name} ×{quantity}" + (f" 等{len(rows)}种" if len(rows) > 1 else "")

    @admin.display(description="申请时间", ordering="created_at")
    def created(self, after_sale: AfterSale) -> str:
        return short_time(after_sale.created_at)

    # --- detail fields ---

    @admin.display(description="订单")
    def order_link(self, after_sale: AfterSale) -> str:
        url = reverse("admin:shop_order_change", args=[after_sale.order_id])
        return format_html('<a href="{}">{}</a>（{}）', url, after_sale.order.order_no,
                           after_sale.order.get_status_display())

    @admin.display(description="会员")
    def member_link(self, after_sale: AfterSale) -> str:
        url = reverse("admin:members_member_change", args=[after_sale.member_id])
        phone = f" {console_phone(after_sale.member.phone)}" if after_sale.member.phone else ""
        return format_html('<a href="{}">{}</a>{}', url, str(after_sale.member), phone)

    @admin.display(description="原因")
    def reason_label(self, after_sale: AfterSale) -> str:
        return after_sale.get_reason_display()

    @admin.display(description="售后商品")
    def lines_table(self, after_sale: AfterSale) -> str:
        """What is asked for, next to what the line bought and paid (its share of every discount)."""
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((r.order_line.product_name, r.order_line.spec_text or "—", yuan_text(r.order_line.unit_price_fen),
              r.order_line.quantity, yuan_text(r.order_line.payable_fen), r.quantity, yuan_text(r.amount_fen))
             for r in after_sale.lines.select_related("order_line").order_by("id")))
        return format_html('<table class="mall-mini-table"><thead><tr><th>商品</th><th>规格</th><th>单价</th>'
                           "<th>购买数量</th><th>该商品实付</th><th>申请数量</th><th>退款金额</th></tr></thead>"
                           "<tbody>{}</tbody></table>", rows)

    @admin.display(description="凭证图片")
    def photos(self, after_sale: AfterSale) -> str:
        """With WeChat's image check under each; one found risky is flagged, not shown."""
        photos = after_sale.photos.select_related("media_check")
        return format_html_join(" ", "{}", ((member_photo(p.image, p.media_check, size=None, css="mall-preview"),)
                                            for p in photos))

    @admin.display(description="订单实付")
    def order_paid(self, after_sale: AfterSale) -> str:
        return yuan_text(after_sale.order.paid_fen)

    @admin.display(description="订单已退")
    def order_refunded(self, after_sale: AfterSale) -> str:
        return yuan_text(after_sale.order.refunded_fen)

    @admin.display(description="订单退款状态")
    def order_refund_state(self, after_sale: AfterSale) -> str:
        return after_sale.order.get_refund_state_display()

    @admin.display(description="库存")
    def restock_label(self, after_sale: AfterSale) -> str:
        if after_sale.kind == "refund_only":
            return "未发货退款：同意后立即退回库存" if after_sale.restock else "已发货仅退款：不退回库存"
        return "确认收到退货时退回库存" if after_sale.status not in (S.REFUNDING, S.REFUNDED) else (
            "已退回库存" if after_sale.restock else "商品不可再售，未退回库存")

    @admin.display(description="审核规则")
    def approval_rule(self, after_sale: AfterSale) -> str:
        limit = yuan_text(settings.REFUND_SECOND_APPROVAL_ABOVE_FEN)
        if services.after_sale_needs_second_approval(after_sale):
            return f"退款金额超过 {limit}，需两位不同运营先后审核通过"
        return f"退款金额不超过 {limit}，一位运营审核即可"

    # --- buttons on the after-sale page ---

    def get_urls(self) -> list:
        def view(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            return self.admin_site.admin_view(func)

        custom = [
            path("<path:object_id>/approve/", view(self.approve_view), name="shop_aftersale_approve"),
            path("<path:object_id>/reject/", view(self.reject_view), name="shop_aftersale_reject"),
            path("<path:object_id>/confirm-return/", view(self.confirm_return_view),
                 name="shop_aftersale_confirm_return"),
        ]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        after_sale = self.get_object(request, unquote(object_id))
        extra: dict[str, Any] = {}
        if after_sale is not None and self.may_decide(request, after_sale):
            # Maker-checker: the operator who gave the first approval waits for another one.
            own_first = (after_sale.status == S.AWAITING_SECOND_APPROVAL
                         and after_sale.approved_by_id == request.user.pk)
            extra = {
                "can_approve": AFTER_SALE_MACHINE.can(after_sale, services.after_sale_approved_status(after_sale))
                and not own_first,
                "approve_label": "复核通过" if after_sale.status == S.AWAITING_SECOND_APPROVAL else "同意",
                "awaiting_other": own_first,
                "can_reject": AFTER_SALE_MACHINE.can(after_sale, S.REJECTED),
                "can_confirm_return": AFTER_SALE_MACHINE.can(after_sale, S.REFUNDING,
                                                             allowed_from=services.RETURN_CONFIRMABLE),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _facts(self, after_sale: AfterSale) -> list[tuple[str, Any]]:
        reason = after_sale.get_reason_display()
        if after_sale.description:
            reason = f"{reason}：{after_sale.description}"
        goods = "；".join(
            f"{row.order_line.product_name}{f'（{row.order_line.spec_text}）' if row.order_line.spec_text else ''}"
            f" × {row.quantity}" for row in after_sale.lines.select_related("order_line"))
        amount = yuan_text(after_sale.amount_fen)
        if after_sale.freight_fen:
            amount = f"{amount}（含运费 {yuan_text(after_sale.freight_fen)}）"
        facts = [("售后单号", after_sale.after_sale_no), ("订单号", after_sale.order.order_no),
                 ("类型", after_sale.get_kind_display()), ("状态", after_sale_badge(after_sale)), ("原因", reason),
                 ("商品", goods), ("退款金额", amount), ("审核规则", self.approval_rule(after_sale))]
        if after_sale.return_tracking_no:
            facts.append(("退货物流", f"{after_sale.return_carrier} {after_sale.return_tracking_no}"))
        return facts

    def _decision_view(self, request: HttpRequest, object_id: str, **kwargs: Any) -> HttpResponse:
        after_sale = self.get_object(request, unquote(object_id))
        if after_sale is not None and not self.may_decide(request, after_sale):
            raise PermissionDenied
        return self.service_view(request, object_id, **kwargs)

    def approve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def approve(after_sale: AfterSale, data: dict[str, Any]) -> str:
            done = services.after_sale_approve(after_sale=after_sale, operator=request_operator(request))
            if done.status == S.AWAITING_SECOND_APPROVAL:
                return f"售后单 {done.after_sale_no} 初审通过，需另一位运营复核"
            if done.status == S.AWAITING_RETURN:
                return f"售后单 {done.after_sale_no} 已同意，等待买家寄回商品"
            return f"售后单 {done.after_sale_no} 已同意，退款 {yuan_text(done.amount_fen)} 已提交微信支付"

        return self._decision_view(request, object_id, title="同意售后", button="确认同意", perform=approve,
                                 facts=self._facts, form_class=ApproveForm)

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def reject(after_sale: AfterSale, data: dict[str, Any]) -> str:
            services.after_sale_reject(after_sale=after_sale, operator=request_operator(request),
                                       reason=data["reason"])
            return f"售后单 {after_sale.after_sale_no} 已拒绝"

        return self._decision_view(request, object_id, title="拒绝售后", button="确认拒绝", perform=reject,
                                 facts=self._facts, form_class=RejectForm, danger=True)

    def confirm_return_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def confirm(after_sale: AfterSale, data: dict[str, Any]) -> str:
            done = services.after_sale_confirm_return(after_sale=after_sale, operator=request_operator(request),
                                                      restock=data["restock"])
            return f"已确认收到退货，退款 {yuan_text(done.amount_fen)} 已提交微信支付"

        return self._decision_view(request, object_id, title="确认收到退货", button="确认收货并退款", perform=confirm,
                                 facts=self._facts, form_class=ConfirmReturnForm)


# --- refunds -----------------------------------------------------------------------------------------


class RefundSourceFilter(admin.SimpleListFilter):
    """售后退款 vs a payment that arrived after its order was cancelled (全额退回): finance reconciles them apart."""

    title = "来源"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("after_sale", "售后"), ("late_payment", "取消后到账")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "after_sale":
            return queryset.filter(after_sale__isnull=False)
        if self.value() == "late_payment":
            return queryset.filter(after_sale__isnull=True)
        return queryset


class RefundEventInline(AuditTrailInline):
    model = RefundEvent
    verbose_name_plural = "退款日志"


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, ExportPermissionMixin, ExportMixin, admin.ModelAdmin):
    change_form_template = "admin/shop/refund/change_form.html"
    resource_classes = [RefundExportResource]
    formats = FILE_FORMATS
    export_form_class = ExportFieldsForm
    to_encoding = "utf-8-sig"  # so Excel shows the Chinese in a CSV correctly
    list_display = ["out_refund_no", "order_no", "source", "amount", "status_label", "attempts", "error",
                    "created", "succeeded"]
    list_filter = ["status", RefundSourceFilter, ("created_at", admin.DateFieldListFilter),
                   ("succeeded_at", admin.DateFieldListFilter)]
    list_select_related = ["order", "after_sale"]
    search_fields = ["=out_refund_no", "=refund_id", "=order__order_no"]
    search_help_text = "按退款单号、微信退款单号或订单号搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    ordering = ["-id"]
    actions = ["retry_selected"]
    fields = readonly_fields = ("out_refund_no", "refund_id", "order_link", "after_sale_link", "amount",
                                "status_label", "reason", "attempts", "last_error", "created_at", "succeeded_at")
    inlines = [RefundEventInline]

    amount = money_display("amount_fen", "退款金额")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("shop.change_refund")

    def get_export_filename(self, request: HttpRequest, queryset: Any, file_format: Any) -> str:
        return f"refunds-{timezone.localtime():%Y%m%d-%H%M}.{file_format.get_extension()}"

    @admin.display(description="订单号", ordering="order__order_no")
    def order_no(self, refund: Refund) -> str:
        return refund.order.order_no

    @admin.display(description="来源")
    def source(self, refund: Refund) -> str:
        return "售后" if refund.after_sale_id else "取消后到账"

    @admin.display(description="状态", ordering="status")
    def status_label(self, refund: Refund) -> str:
        return refund_badge(refund)

    @admin.display(description="错误")
    def error(self, refund: Refund) -> str:
        # The code only ("NOTENOUGH"); the whole message is on the refund's page.
        return refund.last_error.split("：", 1)[0][:24] if refund.last_error else ""

    @admin.display(description="创建时间", ordering="created_at")
    def created(self, refund: Refund) -> str:
        return short_time(refund.created_at)

    @admin.display(description="到账时间", ordering="succeeded_at")
    def succeeded(self, refund: Refund) -> str:
        return short_time(refund.succeeded_at)

    @admin.display(description="订单")
    def order_link(self, refund: Refund) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:shop_order_change", args=[refund.order_id]),
                           refund.order.order_no)

    @admin.display(description="售后单")
    def after_sale_link(self, refund: Refund) -> str:
        if refund.after_sale is None:
            return "—（订单取消后到账的付款，全额退回）"
        return format_html('<a href="{}">{}</a>', reverse("admin:shop_aftersale_change", args=[refund.after_sale_id]),
                           refund.after_sale.after_sale_no)

    def get_urls(self) -> list:
        custom = [path("<path:object_id>/retry/", self.admin_site.admin_view(self.retry_view),
                       name="shop_refund_retry")]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        refund = self.get_object(request, unquote(object_id))
        extra = {"can_retry": self.has_operate_permission(request) and refund is not None
                 and REFUND_MACHINE.can(refund, RefundStatus.PENDING), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET shows the refund and a confirm button; POST sends it again (same out_refund_no)."""
        if not self.has_operate_permission(request):
            raise PermissionDenied
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if request.method == "POST":
            self._retry_each(request, [refund])
            return HttpResponseRedirect(reverse("admin:shop_refund_change", args=[refund.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"重试退款：{refund.out_refund_no}",
            "action_title": "重试",
            "button": "确认重试",
            "opts": self.opts,
            "object_id": refund.pk,
            "refund": refund,
            "status": refund_badge(refund),
            "amount": yuan_text(refund.amount_fen),
        }
        return TemplateResponse(request, "admin/shop/refund/retry_form.html", context)

    @admin.action(description="重试所选的失败退款", permissions=["operate"])
    def retry_selected(self, request: HttpRequest, queryset: Any) -> None:
        retryable = REFUND_MACHINE.sources(RefundStatus.PENDING)
        self._retry_each(request, list(queryset.filter(status__in=retryable)),
                         skipped=queryset.exclude(status__in=retryable).count())

    def _retry_each(self, request: HttpRequest, refunds: list[Refund], skipped: int = 0) -> None:
        done, failed = 0, []
        for refund in refunds:
            try:
                refund_services.refund_retry(refund=refund, operator=request_operator(request))
            except DomainError as exc:
                failed.append(f"{refund.out_refund_no}：{exc.message}")
            else:
                done += 1
                log_operator_write(request, refund, "重试退款")
        if done:
            self.message_user(request, f"已重新发起 {done} 笔退款，结果以微信支付通知为准", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} 笔不是“退款失败”状态，已跳过", messages.WARNING)
        for line in failed:
            self.message_user(request, line, messages.ERROR)


@admin.register(RefundNotification)
class RefundNotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["refund_id", "out_refund_no", "refund_status", "received_at"]
    list_filter = ["refund_status"]
    search_fields = ["=refund_id", "=out_refund_no"]
    search_help_text = "按微信退款单号或退款单号搜索"
    date_hierarchy = "received_at"
    show_full_result_count = False
    fields = readonly_fields = ("refund_id", "out_refund_no", "refund_status", "received_at", "raw")

    @admin.display(description="原始报文（req_info 为密文）")
    def raw(self, notification: RefundNotification) -> str:
        return format_html('<pre class="mall-raw">{}</pre>', notification.raw_xml)

