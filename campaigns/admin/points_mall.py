"""Points mall console (积分商城): the items on offer and the exchanges, with 发货 for gifts.

Items are configuration, saved through points_mall_item_save (stock moves by conditional UPDATE,
never below what was exchanged); exchanges are a read-only record whose only button, 发货, calls
points_exchange_ship.
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
from django.utils.html import format_html

from campaigns.admin.base import BLUE, GREEN, GREY, ORANGE, RED, badge, no_delete_selected, progress_bar, window_text
from campaigns.models import PointsExchange, PointsExchangeStatus, PointsMallItem, PointsMallItemKind
from campaigns.services.points_mall import PointsMallItemInput, points_exchange_ship, points_mall_item_save
from core.admin import ReadOnlyAdminMixin, phone_display, request_operator, short_time
from core.errors import DomainError
from core.privacy import console_phone

EXCHANGE_COLOURS: dict[str, str] = {
    PointsExchangeStatus.COMPLETED: GREEN,
    PointsExchangeStatus.AWAITING_SHIPMENT: ORANGE,
    PointsExchangeStatus.SHIPPED: BLUE,
}


class PointsMallItemForm(forms.ModelForm):
    image_url = forms.URLField(label="图片", max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = PointsMallItem
        fields = ["name", "kind", "coupon_template", "points_price", "stock_total", "per_member_limit", "starts_at",
                  "ends_at", "is_active", "sort", "image_url", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, template = data.get("kind"), data.get("coupon_template")
        if kind == PointsMallItemKind.COUPON and template is None:
            self.add_error("coupon_template", "优惠券商品须选择兑换的优惠券")
        if kind == PointsMallItemKind.GIFT and template is not None:
            self.add_error("coupon_template", "实物礼品不能选择优惠券")
        if data.get("starts_at") and data.get("ends_at") and data["starts_at"] >= data["ends_at"]:
            self.add_error("ends_at", "结束时间须晚于开始时间")
        total = data.get("stock_total")
        if self.instance.pk and total is not None:
            taken = self.instance.stock_total - self.instance.stock_left
            if total < taken:
                self.add_error("stock_total", f"总库存不能少于已兑换的 {taken} 件")
        return data


@admin.register(PointsMallItem)
class PointsMallItemAdmin(admin.ModelAdmin):
    form = PointsMallItemForm
    list_display = ["name", "kind", "points_price", "stock", "per_member_limit", "window", "state", "sort"]
    list_filter = ["kind", "is_active"]
    list_select_related = ["coupon_template"]
    search_fields = ["name"]
    autocomplete_fields = ["coupon_template"]
    ordering = ["sort", "id"]
    readonly_fields = ["live_stock"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(PointsMallItemForm.Meta.fields)
        if obj is not None:
            fields.insert(fields.index("stock_total") + 1, "live_stock")
        return fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return no_delete_selected(self, request, super().get_actions(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # exchanges point at items: take one off the shelf instead (上架 unticked)

    @admin.display(description="库存")
    def stock(self, item: PointsMallItem) -> str:
        colour = RED if item.stock_left <= 0 else GREEN
        return format_html("{} / {} {}", item.stock_left, item.stock_total,
                           progress_bar(item.stock_left, item.stock_total, colour=colour, width=60))

    @admin.display(description="剩余库存")
    def live_stock(self, item: PointsMallItem) -> str:
        return f"{item.stock_left}（已兑换 {item.stock_total - item.stock_left}）"

    @admin.display(description="兑换时间")
    def window(self, item: PointsMallItem) -> str:
        return window_text(item.starts_at, item.ends_at)

    @admin.display(description="状态", ordering="is_active")
    def state(self, item: PointsMallItem) -> str:
        if not item.is_active:
            return badge("已下架", GREY)
        return badge("已兑完", RED) if item.stock_left <= 0 else badge("兑换中", GREEN)

    def save_model(self, request: HttpRequest, obj: PointsMallItem, form: Any, change: bool) -> None:
        data = form.cleaned_data
        template = data.get("coupon_template")
        try:
            saved = points_mall_item_save(data=PointsMallItemInput(
                name=data["name"], kind=data["kind"], coupon_template_id=template.pk if template else None,
                points_price=data["points_price"], stock_total=data["stock_total"],
                per_member_limit=data.get("per_member_limit"), image_url=data.get("image_url") or "",
                description=data.get("description") or "", starts_at=data.get("starts_at"),
                ends_at=data.get("ends_at"), is_active=data.get("is_active", False), sort=data.get("sort") or 0,
                item_id=obj.pk))
        except DomainError as exc:  # an exchange took the stock between the form's check and the save
            messages.error(request, exc.message)
            return
        obj.pk = saved.pk
        obj.stock_left, obj.stock_total = saved.stock_left, saved.stock_total


class ShipForm(forms.Form):
    tracking_no = forms.CharField(label="物流单号", max_length=64)


@admin.register(PointsExchange)
class PointsExchangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/campaigns/pointsexchange/change_form.html"
    list_display = ["id", "created", "member_col", "item_name", "points", "status_col", "receiver", "tracking_no"]
    list_filter = ["status", "item__kind", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["member"]
    search_fields = ["=member__phone", "=member__openid", "item_name", "=tracking_no", "=receiver_phone"]
    search_help_text = "按会员手机号、OpenID、商品名称、物流单号或收货电话搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    fields = readonly_fields = ("member_col", "item", "item_name", "points", "status_col", "points_entry", "coupon",
                                "receiver_name", "receiver_phone_shown", "address", "tracking_no", "created_at",
                                "shipped_at")

    receiver_phone_shown = phone_display("receiver_phone", "收货电话")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.change_pointsexchange")

    @admin.display(description="兑换时间", ordering="created_at")
    def created(self, exchange: PointsExchange) -> str:
        return short_time(exchange.created_at)

    @admin.display(description="会员")
    def member_col(self, exchange: PointsExchange) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:members_member_change", args=[exchange.member_id]),
                           str(exchange.member))

    @admin.display(description="状态", ordering="status")
    def status_col(self, exchange: PointsExchange) -> str:
        return badge(exchange.get_status_display(), EXCHANGE_COLOURS.get(exchange.status, GREY))

    @admin.display(description="收货人")
    def receiver(self, exchange: PointsExchange) -> str:
        return f"{exchange.receiver_name} {console_phone(exchange.receiver_phone)}".strip() or "—"

    def get_urls(self) -> list:
        custom = [path("<path:object_id>/ship/", self.admin_site.admin_view(self.ship_view),
                       name="campaigns_pointsexchange_ship")]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        exchange = self.get_object(request, unquote(object_id))
        extra = {"can_ship": self.has_operate_permission(request) and exchange is not None
                 and exchange.status == PointsExchangeStatus.AWAITING_SHIPMENT, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def ship_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET shows the gift and where it goes; POST records the tracking number (points_exchange_ship)."""
        if not self.has_operate_permission(request):
            raise PermissionDenied
        exchange = self.get_object(request, unquote(object_id))
        if exchange is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        form = ShipForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                points_exchange_ship(exchange_id=exchange.pk, tracking_no=form.cleaned_data["tracking_no"],
                                     operator=request_operator(request))
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"兑换记录 #{exchange.pk} 已发货")
                return HttpResponseRedirect(reverse("admin:campaigns_pointsexchange_change", args=[exchange.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"发货：{exchange.item_name}",
            "action_title": "发货",
            "button": "确认发货",
            "danger": False,
            "opts": self.opts,
            "object_id": exchange.pk,
            "exchange": exchange,
            "form": form,
        }
        return TemplateResponse(request, "admin/campaigns/pointsexchange/ship_form.html", context)
