"""拼团 console: activity setup (items through the flash sales' price floor), groups with their
members, and the operator's 关闭拼团 / 强制成团 with a reason (audited, through the services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from campaigns.admin.activities import WarnOnOverlapMixin, state_badge
from campaigns.admin.base import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    RED,
    ActivityItemInlineMixin,
    ReasonForm,
    badge,
    no_delete_selected,
)
from campaigns.models import GroupBuy, GroupBuyActivity, GroupBuyEvent, GroupBuyItem, GroupBuySeat, GroupBuyStatus
from campaigns.models.groupbuy import GROUP_BUY_MACHINE
from campaigns.services.activities import GroupBuyItemInput, groupbuy_item_price_check, groupbuy_item_save
from campaigns.services.groupbuy import groupbuy_close, groupbuy_force_succeed
from core.admin import (
    NO_CAPTION,
    AuditTrailInline,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceViewMixin,
    YuanFormField,
    request_operator,
    short_time,
    yuan_text,
)
from core.errors import DomainError

GS = GroupBuyStatus
STATUS_COLOURS: dict[str, str] = {GS.FORMING: ORANGE, GS.SUCCEEDED: GREEN, GS.FAILED: GREY}


class GroupBuyItemForm(forms.ModelForm):
    """One SKU of an activity. Saved by campaigns.services.activities.groupbuy_item_save, not by the form."""

    group_price_fen = YuanFormField(label="拼团价（元）")
    leader_price_fen = YuanFormField(label="团长价（元）", required=False, help_text="留空同拼团价")
    confirm_below_cost = forms.BooleanField(
        label="确认低于成本价", required=False,
        help_text="拼团价或团长价低于成本价时，需有“可确认低于成本价的活动价”权限的运营勾选")

    operator: Any = None  # set per request by the inline: who is saving

    class Meta:
        model = GroupBuyItem
        fields = ["sku", "group_price_fen", "leader_price_fen", "stock_total", "sort", "confirm_below_cost"]
        widgets = {"stock_total": forms.NumberInput(attrs={"style": "width: 5em"}),
                   "sort": forms.NumberInput(attrs={"style": "width: 4em"})}

    def to_input(self) -> GroupBuyItemInput:
        data = self.cleaned_data
        return GroupBuyItemInput(sku_id=data["sku"].pk, group_price_fen=data["group_price_fen"],
                                 leader_price_fen=data.get("leader_price_fen"), stock_total=data["stock_total"],
                                 sort=data.get("sort") or 0, item_id=self.instance.pk,
                                 confirm_below_cost=bool(data.get("confirm_below_cost")))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("DELETE") or data.get("sku") is None or data.get("group_price_fen") is None:
            return data
        current = self.instance if self.instance.pk else None
        unchanged = current is not None and (current.sku_id, current.group_price_fen, current.leader_price_fen) == (
            data["sku"].pk, data["group_price_fen"], data.get("leader_price_fen"))
        try:
            groupbuy_item_price_check(data=self.to_input(), operator=self.operator,
                                      confirmed_before=unchanged and current is not None
                                      and current.below_cost_confirmed)
        except DomainError as exc:
            self.add_error("group_price_fen", exc.message)
        total = data.get("stock_total")
        taken = current.stock_total - current.stock_left if current is not None else 0
        if total is not None and total < taken:
            self.add_error("stock_total", f"活动库存不能少于已售出及待支付的 {taken} 件")
        return data


class GroupBuyItemInline(ActivityItemInlineMixin, admin.TabularInline):
    model = GroupBuyItem
    form = GroupBuyItemForm
    extra = 0
    can_delete = False
    classes = [NO_CAPTION]
    autocomplete_fields = ["sku"]
    fields = ["sku", "cost", "group_price_fen", "leader_price_fen", "stock_total", "live_stock", "sort",
              "confirm_below_cost", "below_cost"]
    readonly_fields = ["cost", "live_stock", "below_cost"]
    verbose_name_plural = "拼团商品（实时库存）"

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 1 if obj is None else 0

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("sku", "sku__product")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type("GroupBuyItemForm", (formset.form,), {"operator": request_operator(request)})
        return formset

    @admin.display(description="低于成本价")
    def below_cost(self, item: GroupBuyItem) -> str:
        return badge("已确认", RED) if item.below_cost_confirmed else "—"


@admin.register(GroupBuyActivity)
class GroupBuyActivityAdmin(WarnOnOverlapMixin, admin.ModelAdmin):
    list_display = ["name", "window", "state", "group_size", "open_hours", "items", "groups", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    search_help_text = "按活动名称搜索"
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["name", "starts_at", "ends_at", "is_active"]}),
        ("成团规则", {"fields": ["group_size", "open_hours", "per_member_limit", "new_members_only",
                                 "single_purchase", "simulate_percent", "overflow"]}),
        ("订单", {"fields": ["unpaid_timeout_minutes", "commission_enabled"]}),
    ]
    inlines = [GroupBuyItemInline]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return no_delete_selected(self, request, super().get_actions(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # groups and orders refer to it: stop it (启用) instead

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).annotate(
            stat_items=Count("items", distinct=True),
            stat_forming=Count("groups", filter=Q(groups__status=GS.FORMING), distinct=True),
            stat_succeeded=Count("groups", filter=Q(groups__status=GS.SUCCEEDED), distinct=True))

    @admin.display(description="活动时间", ordering="starts_at")
    def window(self, activity: GroupBuyActivity) -> str:
        return f"{short_time(activity.starts_at)} ~ {short_time(activity.ends_at)}"

    @admin.display(description="状态")
    def state(self, activity: GroupBuyActivity) -> str:
        return state_badge(activity.starts_at, activity.ends_at, activity.is_active)

    @admin.display(description="商品数")
    def items(self, activity: GroupBuyActivity) -> int:
        return activity.stat_items  # type: ignore[attr-defined]

    @admin.display(description="拼团中 / 已成团")
    def groups(self, activity: GroupBuyActivity) -> str:
        return f"{activity.stat_forming} / {activity.stat_succeeded}"  # type: ignore[attr-defined]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not GroupBuyItem:
            super().save_formset(request, form, formset, change)
            return
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            data = getattr(item_form, "cleaned_data", None)
            if not data or (item_form.instance.pk and not item_form.has_changed()):
                continue
            saved = groupbuy_item_save(activity_id=form.instance.pk, operator=request_operator(request),
                                       data=item_form.to_input())
            if item_form.instance.pk:
                formset.changed_objects.append((saved, item_form.changed_data))
            else:
                formset.new_objects.append(saved)


class GroupBuySeatInline(ReadOnlyInline):
    model = GroupBuySeat
    fields = readonly_fields = ("member", "role", "order_no", "quantity", "paid", "status", "paid_at", "refund_reason")
    verbose_name_plural = "团员"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).exclude(status__in=["pending", "cancelled"]).select_related("member")

    @admin.display(description="实付")
    def paid(self, seat: GroupBuySeat) -> str:
        return yuan_text(seat.paid_fen)


class GroupBuyEventInline(AuditTrailInline):
    model = GroupBuyEvent
    verbose_name_plural = "拼团日志"


class ForceSucceedForm(ReasonForm):
    confirm = forms.BooleanField(label="确认补齐空位并成团（订单将可以发货）", required=True)


@admin.register(GroupBuy)
class GroupBuyAdmin(ServiceViewMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/campaigns/groupbuy/change_form.html"
    list_display = ["group_no", "activity", "product", "leader", "status_col", "seats", "deadline", "opened"]
    list_filter = ["status", "activity"]
    list_select_related = ["activity", "leader", "item__sku__product"]
    search_fields = ["=group_no", "leader__nickname", "activity__name"]
    search_help_text = "按团号、团长昵称或活动名称搜索"
    show_full_result_count = False
    list_per_page = 50
    ordering = ["-id"]
    fields = readonly_fields = ("group_no", "activity", "product", "leader", "status_col", "seats", "expires_at",
                                "created_at", "succeeded_at", "failed_at", "close_reason")
    inlines = [GroupBuySeatInline, GroupBuyEventInline]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return no_delete_selected(self, request, super().get_actions(request))

    @admin.display(description="商品")
    def product(self, group: GroupBuy) -> str:
        return group.item.sku.product.name

    @admin.display(description="状态", ordering="status")
    def status_col(self, group: GroupBuy) -> str:
        label = group.get_status_display()
        if group.status == GS.FORMING and group.expires_at <= timezone.now():
            return badge("已到期，待处理", BLUE)
        return badge(label, STATUS_COLOURS.get(group.status, GREY))

    @admin.display(description="人数（已付 / 成团）")
    def seats(self, group: GroupBuy) -> str:
        simulated = f"（模拟补齐 {group.simulated_seats}）" if group.simulated_seats else ""
        return f"{group.seats_taken + group.simulated_seats} / {group.size}{simulated}"

    @admin.display(description="截止时间", ordering="expires_at")
    def deadline(self, group: GroupBuy) -> str:
        return short_time(group.expires_at)

    @admin.display(description="开团时间", ordering="created_at")
    def opened(self, group: GroupBuy) -> str:
        return short_time(group.created_at)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        custom = [
            path("<path:object_id>/close/", view(self.close_view), name="campaigns_groupbuy_close"),
            path("<path:object_id>/force-succeed/", view(self.force_view), name="campaigns_groupbuy_force_succeed"),
        ]
        return custom + super().get_urls()

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        group = self.get_object(request, unquote(object_id))
        extra: dict[str, Any] = {}
        if group is not None and self.has_operate_permission(request):
            extra = {"can_close": GROUP_BUY_MACHINE.can(group, GS.FAILED),
                     "can_force": GROUP_BUY_MACHINE.can(group, GS.SUCCEEDED)}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def _facts(self, group: GroupBuy) -> list[tuple[str, Any]]:
        return [("团号", group.group_no), ("活动", group.activity.name), ("商品", self.product(group)),
                ("团长", str(group.leader)), ("状态", group.get_status_display()), ("人数", self.seats(group)),
                ("截止时间", short_time(group.expires_at))]

    def close_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def close(group: GroupBuy, data: dict[str, Any]) -> str:
            groupbuy_close(group_id=group.pk, reason=data["reason"], operator=request_operator(request))
            return f"拼团 {group.group_no} 已关闭，已付款的 {group.seats_taken} 位团员将自动全额退款"

        return self.service_view(request, object_id, title="关闭拼团", button="确认关闭并退款", perform=close,
                                 facts=self._facts, form_class=ReasonForm, danger=True)

    def force_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def force(group: GroupBuy, data: dict[str, Any]) -> str:
            done = groupbuy_force_succeed(group_id=group.pk, reason=data["reason"], operator=request_operator(request))
            return f"拼团 {done.group_no} 已强制成团（补齐 {done.simulated_seats} 人），订单可以发货"

        return self.service_view(request, object_id, title="强制成团", button="确认成团", perform=force,
                                 facts=self._facts, form_class=ForceSucceedForm)
