"""Activities console: 满减 ladders and flash-sale sessions (秒杀场次) with live activity stock.

The guard rails are in campaigns.services.activities: flash items are saved through
flash_item_save() (price floor with a permitted confirmation, stock_total by conditional UPDATE)
and every save of a session or a 满减 activity is followed by an overlap check whose warnings
name the other activities (saved anyway).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from campaigns.admin.base import (
    BLUE,
    GREEN,
    GREY,
    RED,
    ActivityItemInlineMixin,
    AutocompleteWhereSearchable,
    badge,
    progress_bar,
    window_text,
)
from campaigns.admin.forms import (
    FlashItemForm,
    FlashSessionForm,
    FullReductionForm,
    FullReductionStepForm,
    FullReductionStepFormSet,
)
from campaigns.models import FlashItem, FlashSession, FullReduction, FullReductionStep
from campaigns.selectors.flash import SessionState, flash_session_state
from campaigns.selectors.stats import flash_items_with_sales, flash_sessions_with_stock
from campaigns.services.activities import (
    FlashItemInput,
    below_cost_confirmations,
    flash_item_delete,
    flash_item_save,
    flash_session_overlaps,
    full_reduction_overlaps,
)
from campaigns.services.flash import flash_sessions_create_for_day
from core.admin import NO_CAPTION, money_display, request_operator, yuan_text
from core.errors import DomainError
from core.money import yuan

STATE_COLOURS = {SessionState.UPCOMING: BLUE, SessionState.RUNNING: GREEN, SessionState.ENDED: GREY}
STATE_LABELS = {SessionState.UPCOMING: "未开始", SessionState.RUNNING: "进行中", SessionState.ENDED: "已结束"}


def state_badge(starts_at: Any, ends_at: Any, is_active: bool) -> str:
    if not is_active:
        return badge("已停用", GREY)
    state = flash_session_state(starts_at=starts_at, ends_at=ends_at, now=timezone.now())
    return badge(STATE_LABELS[state], STATE_COLOURS[state])


class WarnOnOverlapMixin:
    """Changes are saved inside the change form's transaction; a service refusing at save time
    (a race the form could not see) rolls it all back and shows the service's message."""

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except DomainError as exc:
            messages.error(request, f"未保存：{exc.message}")
            return HttpResponseRedirect(request.get_full_path())

    def warn(self, request: HttpRequest, warnings: list[str]) -> None:
        for line in warnings:
            messages.warning(request, f"注意：{line}（已保存）")


# ---------------------------------------------------------------------------------------------
# 满减


class FullReductionStepInline(admin.TabularInline):
    model = FullReductionStep
    form = FullReductionStepForm
    formset = FullReductionStepFormSet
    extra = 1
    classes = [NO_CAPTION]
    verbose_name = "优惠档位"
    verbose_name_plural = "优惠档位"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        # The ladder is checked against the kind being saved, which may differ from the stored one.
        kind = request.POST.get("kind") if request.method == "POST" else None
        return type("StepFormSet", (formset,), {"activity_kind": kind})


@admin.register(FullReduction)
class FullReductionAdmin(WarnOnOverlapMixin, AutocompleteWhereSearchable, admin.ModelAdmin):
    form = FullReductionForm
    change_form_template = "admin/campaigns/fullreduction/change_form.html"
    list_display = ["name", "kind", "ladder", "scope", "window", "state", "is_active"]
    list_filter = ["kind", "is_active", "scope"]
    search_fields = ["name"]
    search_help_text = "按活动名称搜索"
    autocomplete_candidates = ("categories", "products", "excluded_products")
    fieldsets = [
        ("基本信息", {"fields": ["name", "kind", "is_active", "starts_at", "ends_at"]}),
        ("适用范围", {"fields": ["scope", "categories", "products", "excluded_products"]}),
    ]
    inlines = [FullReductionStepInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description="优惠档位")
    def ladder(self, activity: FullReduction) -> str:
        steps = list(activity.steps.all())
        if activity.kind == FullReduction.Kind.AMOUNT:
            rungs = [f"满{yuan(s.threshold_fen).removesuffix('.00')}减{yuan(s.discount_fen).removesuffix('.00')}"
                     for s in steps]
        else:
            rungs = [f"满{s.threshold_count}件{(s.pay_percent or 0) / 10:g}折" for s in steps]
        return "，".join(rungs) or "—"

    @admin.display(description="活动时间", ordering="starts_at")
    def window(self, activity: FullReduction) -> str:
        return window_text(activity.starts_at, activity.ends_at)

    @admin.display(description="状态")
    def state(self, activity: FullReduction) -> str:
        return state_badge(activity.starts_at, activity.ends_at, activity.is_active)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        self.warn(request, full_reduction_overlaps(activity_id=form.instance.pk))


# ---------------------------------------------------------------------------------------------
# 秒杀


class FlashItemInline(ActivityItemInlineMixin, admin.TabularInline):
    sold_out_label = "已抢光"
    model = FlashItem
    form = FlashItemForm
    extra = 0
    classes = [NO_CAPTION]
    autocomplete_fields = ["sku"]
    fields = ["sku", "cost", "flash_price_fen", "stock_total", "live_stock", "sold", "per_member_limit", "sort",
              "confirm_below_cost", "below_cost"]
    readonly_fields = ["cost", "live_stock", "sold", "below_cost"]
    verbose_name_plural = "秒杀商品（实时库存）"

    def get_extra(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> int:
        return 1 if obj is None else 0

    def get_queryset(self, request: HttpRequest) -> Any:
        return flash_items_with_sales(super().get_queryset(request).select_related("sku", "sku__product"))

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        form = type("FlashItemForm", (formset.form,), {"operator": request_operator(request),
                                                        "hand_clean_DELETE": FlashItemForm.check_delete})
        formset.form = form
        return formset

    @admin.display(description="已售（待支付）")
    def sold(self, item: FlashItem) -> str:
        if not item.pk:
            return "—"
        pending = getattr(item, "stat_pending", 0)
        text = str(getattr(item, "stat_sold", 0))
        return f"{text}（{pending}）" if pending else text

    @admin.display(description="低于成本价")
    def below_cost(self, item: FlashItem) -> str:
        return badge("已确认", RED) if item.below_cost_confirmed else "—"


@admin.register(FlashSession)
class FlashSessionAdmin(WarnOnOverlapMixin, admin.ModelAdmin):
    form = FlashSessionForm
    change_list_template = "admin/campaigns/flashsession/change_list.html"
    list_display = ["name", "window", "state", "items", "stock", "budget", "is_active"]
    list_filter = ["is_active", ("starts_at", admin.DateFieldListFilter)]
    search_fields = ["name"]
    date_hierarchy = "starts_at"
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = ["subsidy", "below_cost_audit"]
    fieldsets = [
        (None, {"fields": ["name", "starts_at", "ends_at", "unpaid_timeout_minutes", "is_active",
                           "commission_enabled"]}),
        ("补贴预算", {"fields": ["budget_fen", "subsidy"]}),
    ]
    inlines = [FlashItemInline]

    subsidy = money_display("subsidy_fen", "已用补贴")

    def get_queryset(self, request: HttpRequest) -> Any:
        return flash_sessions_with_stock(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: FlashSession | None = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and FlashItem.objects.filter(session=obj, below_cost_confirmed=True).exists():
            fieldsets.append(("低于成本价确认记录", {"fields": ["below_cost_audit"]}))
        return fieldsets

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {"can_create_tomorrow": self.has_add_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.display(description="场次时间", ordering="starts_at")
    def window(self, session: FlashSession) -> str:
        return window_text(session.starts_at, session.ends_at)

    @admin.display(description="状态")
    def state(self, session: FlashSession) -> str:
        return state_badge(session.starts_at, session.ends_at, session.is_active)

    @admin.display(description="商品数", ordering="stat_items")
    def items(self, session: FlashSession) -> int:
        return session.stat_items  # type: ignore[attr-defined]

    @admin.display(description="剩余 / 总量")
    def stock(self, session: FlashSession) -> str:
        left, total = session.stat_stock_left, session.stat_stock_total  # type: ignore[attr-defined]
        return format_html("{} / {} {}", left, total, progress_bar(left, total, colour=GREEN, width=60))

    @admin.display(description="补贴（已用 / 预算）")
    def budget(self, session: FlashSession) -> str:
        if session.budget_fen is None:
            return f"{yuan_text(session.subsidy_fen)} / 不限"
        return f"{yuan_text(session.subsidy_fen)} / {yuan_text(session.budget_fen)}"

    @admin.display(description="确认记录")
    def below_cost_audit(self, session: FlashSession) -> str:
        if not session.pk:
            return "—"
        items = {item.pk: item for item in session.items.select_related("sku")}
        entries = below_cost_confirmations(item_ids=list(items))
        if not entries:
            return "无"
        return format_html_join(
            "", "<div>{} {}：{}</div>",
            ((timezone.localtime(e.action_time).strftime("%Y-%m-%d %H:%M"), e.user, e.change_message)
             for e in entries.values()))

    # --- saving items through the guard rails ----------------------------------------------

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not FlashItem:
            super().save_formset(request, form, formset, change)
            return
        session = form.instance
        operator = request_operator(request)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            data = getattr(item_form, "cleaned_data", None)
            if not data:
                continue
            instance = item_form.instance
            if data.get("DELETE"):
                if instance.pk:
                    flash_item_delete(item_id=instance.pk)
                    formset.deleted_objects.append(instance)
                continue
            if instance.pk and not item_form.has_changed():
                continue
            saved = flash_item_save(session_id=session.pk, operator=operator, data=FlashItemInput(
                sku_id=data["sku"].pk, flash_price_fen=data["flash_price_fen"], stock_total=data["stock_total"],
                per_member_limit=data["per_member_limit"], sort=data.get("sort") or 0,
                item_id=instance.pk, confirm_below_cost=bool(data.get("confirm_below_cost"))))
            if instance.pk:
                formset.changed_objects.append((saved, item_form.changed_data))
            else:
                formset.new_objects.append(saved)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        self.warn(request, flash_session_overlaps(session_id=form.instance.pk))

    # --- 生成明日默认场次 ------------------------------------------------------------------------

    def get_urls(self) -> list:
        custom = [path("create-tomorrow/", self.admin_site.admin_view(self.create_tomorrow_view),
                       name="campaigns_flashsession_create_tomorrow")]
        return custom + super().get_urls()

    def create_tomorrow_view(self, request: HttpRequest) -> HttpResponse:
        """POST: tomorrow's default sessions (settings.FLASH_SALE_SLOTS); idempotent."""
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        sessions = flash_sessions_create_for_day()
        if sessions:
            names = "、".join(s.name for s in sessions)
            self.message_user(request, f"已生成明日 {len(sessions)} 个默认场次：{names}", messages.SUCCESS)
        else:
            self.message_user(request, "明日的默认场次已存在，未重复生成", messages.INFO)
        return HttpResponseRedirect(reverse("admin:campaigns_flashsession_changelist"))
