"""砍价 in the console: activity setup (prices in yuan, stock through the service) and the launches
with their helpers' cuts and audit trail; 关闭砍价 with a reason. Prices, statuses and cuts are
read-only; every write calls campaigns.services.bargain."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from campaigns.admin.activities import WarnOnOverlapMixin
from campaigns.admin.base import BLUE, GREEN, GREY, ORANGE, RED, ReasonForm, badge, progress_bar, window_text
from campaigns.models import BARGAIN_MACHINE, BargainActivity, BargainHelp, BargainLaunch, BargainStatus
from campaigns.models.bargain import BargainEvent
from campaigns.services.bargain import bargain_activity_save, bargain_close
from core.admin import (
    AuditTrailInline,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceViewMixin,
    YuanFormField,
    log_operator_write,
    money_display,
    request_operator,
    short_time,
    yuan_text,
)

BS = BargainStatus
STATUS_COLOURS: dict[str, str] = {BS.ONGOING: BLUE, BS.SUCCEEDED: GREEN, BS.ORDERED: ORANGE, BS.PURCHASED: GREEN,
                  BS.EXPIRED: GREY, BS.CLOSED: RED}


class BargainActivityForm(forms.ModelForm):
    start_price_fen = YuanFormField(label="起砍价（元）", help_text="发起时的价格，一般为原价")
    floor_price_fen = YuanFormField(label="底价（元）", help_text="砍到底时的成交价")

    class Meta:
        model = BargainActivity
        fields = ["name", "sku", "start_price_fen", "floor_price_fen", "helpers_needed", "hours_to_finish",
                  "helps_per_helper", "buy_before_floor", "stock_total", "starts_at", "ends_at", "is_active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, floor, helpers = data.get("start_price_fen"), data.get("floor_price_fen"), data.get("helpers_needed")
        if start is not None and floor is not None and helpers:
            if floor + helpers > start:
                self.add_error("floor_price_fen", f"底价须比起砍价至少低 {helpers} 分（每位好友至少砍 0.01 元）")
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "结束时间须晚于开始时间")
        if data.get("helpers_needed") == 0:
            self.add_error("helpers_needed", "至少需要 1 位好友帮砍")
        return data


@admin.register(BargainActivity)
class BargainActivityAdmin(WarnOnOverlapMixin, admin.ModelAdmin):
    form = BargainActivityForm
    list_display = ["name", "sku", "prices", "helpers_needed", "hours_to_finish", "window", "state", "stock",
                    "launches", "purchased"]
    list_filter = ["is_active"]
    search_fields = ["name", "sku__code", "sku__product__name"]
    search_help_text = "按活动名称、SKU 编码或商品名称搜索"
    autocomplete_fields = ["sku"]
    list_select_related = ["sku__product"]
    fieldsets = [
        ("基本信息", {"fields": ["name", "sku", "is_active", "starts_at", "ends_at"]}),
        ("砍价规则", {"fields": ["start_price_fen", "floor_price_fen", "helpers_needed", "hours_to_finish",
                             "helps_per_helper", "buy_before_floor"],
                      "description": "每刀随机砍掉剩余金额的 20%–50%，并为之后的每位好友至少留 0.01 元；"
                                     "最后一位好友正好砍到底价。修改规则只影响之后发起的砍价。"}),
        ("库存", {"fields": ["stock_total", "stock_left"]}),
    ]
    readonly_fields = ["stock_left"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).annotate(
            launch_count=Count("launches"),
            purchased_count=Count("launches", filter=Q(launches__status=BS.PURCHASED)))

    @admin.display(description="价格")
    def prices(self, a: BargainActivity) -> str:
        return f"{yuan_text(a.start_price_fen)} → {yuan_text(a.floor_price_fen)}"

    @admin.display(description="活动时间")
    def window(self, a: BargainActivity) -> str:
        return window_text(a.starts_at, a.ends_at)

    @admin.display(description="状态")
    def state(self, a: BargainActivity) -> str:
        now = timezone.now()
        if not a.is_active:
            return badge("已停用", GREY)
        if now < a.starts_at:
            return badge("未开始", BLUE)
        return badge("进行中", GREEN) if now < a.ends_at else badge("已结束", GREY)

    @admin.display(description="剩余 / 活动库存")
    def stock(self, a: BargainActivity) -> str:
        return f"{a.stock_left} / {a.stock_total}"

    @admin.display(description="发起数", ordering="launch_count")
    def launches(self, a: Any) -> int:
        return int(a.launch_count)

    @admin.display(description="成交数", ordering="purchased_count")
    def purchased(self, a: Any) -> int:
        return int(a.purchased_count)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # An activity members launched stays (its launches point at it): stop it with 启用 instead.
        if obj is not None and obj.launches.exists():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: BargainActivity, form: Any, change: bool) -> None:
        bargain_activity_save(activity=obj)


class BargainHelpInline(ReadOnlyInline):
    model = BargainHelp
    verbose_name_plural = "帮砍记录"
    fields = readonly_fields = ("seq", "helper", "cut", "price_after", "device_id", "helper_registered", "created")
    ordering = ["seq"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("helper")

    cut = money_display("cut_fen", "砍掉")
    price_after = money_display("price_after_fen", "砍后价")

    @admin.display(description="帮砍人注册时间")
    def helper_registered(self, h: BargainHelp) -> str:
        return short_time(h.helper_registered_at)

    @admin.display(description="时间")
    def created(self, h: BargainHelp) -> str:
        return short_time(h.created_at)


class BargainEventInline(AuditTrailInline):
    model = BargainEvent
    verbose_name_plural = "砍价日志"


@admin.register(BargainLaunch)
class BargainLaunchAdmin(ServiceViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/campaigns/bargainlaunch/change_form.html"
    list_display = ["launch_no", "activity", "member", "progress", "current", "status_col", "created",
                    "deadline", "order_no"]
    list_filter = ["status", "activity"]
    list_select_related = ["activity", "member"]
    search_fields = ["=launch_no", "=order_no", "member__nickname", "=member__phone"]
    search_help_text = "按砍价单号、订单号、发起人昵称或手机号搜索"
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    fields = readonly_fields = ("launch_no", "activity", "member", "status_col", "start", "floor", "current",
                                "progress", "expires_at", "buy_until", "order_no", "created_at", "succeeded_at",
                                "ordered_at", "purchased_at", "closed_at")
    inlines = [BargainHelpInline, BargainEventInline]

    start = money_display("start_price_fen", "起砍价")
    floor = money_display("floor_price_fen", "底价")
    current = money_display("current_price_fen", "当前价")

    @admin.display(description="帮砍进度")
    def progress(self, launch: BargainLaunch) -> str:
        return format_html("{} {}/{}", progress_bar(launch.helpers_count, launch.helpers_needed, colour=GREEN),
                           launch.helpers_count, launch.helpers_needed)

    @admin.display(description="状态", ordering="status")
    def status_col(self, launch: BargainLaunch) -> str:
        status = launch.status_now(timezone.now())
        return badge(BARGAIN_MACHINE.label(status), STATUS_COLOURS.get(status, GREY))

    @admin.display(description="发起时间", ordering="created_at")
    def created(self, launch: BargainLaunch) -> str:
        return short_time(launch.created_at)

    @admin.display(description="截止时间", ordering="expires_at")
    def deadline(self, launch: BargainLaunch) -> str:
        return short_time(launch.buy_until if launch.status == BS.SUCCEEDED else launch.expires_at)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [path("<path:object_id>/close/", view(self.close_view), name="campaigns_bargainlaunch_close"),
                *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        launch = self.get_object(request, unquote(object_id))
        extra = {"can_close": launch is not None and self.has_operate_permission(request)
                 and BARGAIN_MACHINE.can(launch, BS.CLOSED)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def close_view(self, request: HttpRequest, object_id: str) -> HttpResponse | HttpResponseRedirect:
        def close(launch: BargainLaunch, data: dict[str, Any]) -> str:
            bargain_close(launch_id=launch.pk, reason=data["reason"], operator=request_operator(request))
            done = f"砍价 {launch.launch_no} 已关闭，好友不能再帮砍，发起人不能再购买"
            log_operator_write(request, launch, f"{done}（{data['reason']}）")
            return done

        def facts(launch: BargainLaunch) -> list[tuple[str, Any]]:
            return [("活动", launch.activity.name), ("发起人", str(launch.member)),
                    ("当前价", yuan_text(launch.current_price_fen)),
                    ("帮砍进度", f"{launch.helpers_count}/{launch.helpers_needed}"),
                    ("状态", launch.get_status_display())]

        return self.service_view(request, object_id, title="关闭砍价", button="确认关闭", perform=close, facts=facts,
                                 form_class=ReasonForm, danger=True)
