"""Guarded saves of activities from the console: flash-sale items and 满减 ladders.

Operators make mistakes; three guard rails catch the expensive ones:

- **Price floor.** A flash price below the SKU's cost × settings.CAMPAIGN_PRICE_FLOOR is refused,
  unless an operator holding `campaigns.approve_below_cost` ticks the confirmation. The item then
  carries `below_cost_confirmed` and the admin log records who confirmed which price.
- **Overlap.** The same SKU in two activities whose time windows overlap is allowed (a flash item
  inside a store-wide 满减 is normal), but the operator is told which other activity it is in.
- **Activity stock.** Changing an item's `stock_total` moves `stock_left` by the difference in one
  conditional UPDATE whose WHERE clause keeps it at or above zero, so units already sold or held
  by unpaid orders (which flash_reserve() took with its own conditional UPDATE) are never
  handed out twice, whatever runs at the same moment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from campaigns.errors import (
    ActivityPriceBelowCost,
    BelowCostPermissionRequired,
    FlashItemInUse,
    FlashItemNotFound,
    FlashStockBelowSold,
    GroupBuyItemNotFound,
    GroupBuyStockBelowSold,
)
from campaigns.models import FlashItem, FlashSession, FullReduction, GroupBuyItem, Scope
from catalog.models import Product, Sku
from core.errors import ValidationFailed
from core.money import round_fen, yuan

APPROVE_BELOW_COST = "campaigns.approve_below_cost"


# ---------------------------------------------------------------------------------------------
# Price floor


@dataclass(frozen=True)
class PriceCheck:
    """How a flash price compares with the floor: `below` means under cost × floor (and allowed)."""

    sku_code: str
    cost_fen: int
    floor_fen: int
    below: bool


def price_floor_fen(cost_fen: int) -> int:
    """The lowest activity price allowed without confirmation: cost × CAMPAIGN_PRICE_FLOOR."""
    return round_fen(Decimal(cost_fen) * Decimal(str(settings.CAMPAIGN_PRICE_FLOOR)))


def flash_item_price_check(*, sku_id: int, flash_price_fen: int, confirm_below_cost: bool = False,
                           operator: AbstractBaseUser | None = None,
                           confirmed_before: bool = False, price_label: str = "秒杀价") -> PriceCheck:
    """Check an activity price (a flash price; a group-buy item's group or leader price, named by
    `price_label`) against the SKU's cost × floor. Reads only; raises when refused.

    Below the floor the price is accepted only when `operator` has campaigns.approve_below_cost
    and ticked the confirmation (`confirm_below_cost`), or when this very price was confirmed
    before (`confirmed_before`: the caller saw it unchanged on a confirmed item). Raises
    ActivityPriceBelowCost (not confirmed) or BelowCostPermissionRequired (ticked without the
    permission).
    """
    row = Sku.objects.filter(pk=sku_id).values("code", "cost_fen").first()
    if row is None:
        raise ValidationFailed("SKU 不存在", code="sku_not_found", detail={"sku_id": sku_id})
    cost_fen, code = int(row["cost_fen"]), str(row["code"])
    floor_fen = price_floor_fen(cost_fen)
    check = PriceCheck(sku_code=code, cost_fen=cost_fen, floor_fen=floor_fen, below=flash_price_fen < floor_fen)
    if not check.below or confirmed_before:
        return check
    detail = {"sku_id": sku_id, "sku_code": code, "flash_price_fen": flash_price_fen, "cost_fen": cost_fen,
              "floor_fen": floor_fen, "floor": settings.CAMPAIGN_PRICE_FLOOR}
    words = (f"SKU {code} 的{price_label} ¥{yuan(flash_price_fen)} 低于成本价 ¥{yuan(cost_fen)} × "
             f"{settings.CAMPAIGN_PRICE_FLOOR:g}（¥{yuan(floor_fen)}）")
    if not confirm_below_cost:
        raise ActivityPriceBelowCost(
            f"{words}，不能保存；如确需低价，请由有“可确认低于成本价的活动价”权限的运营勾选“确认低于成本价”",
            detail=detail)
    if operator is None or not operator.has_perm(APPROVE_BELOW_COST):  # type: ignore[attr-defined]
        raise BelowCostPermissionRequired(
            f"{words}，您没有“可确认低于成本价的活动价”权限，请联系有权限的运营确认", detail=detail)
    return check


# ---------------------------------------------------------------------------------------------
# Flash items


@dataclass(frozen=True)
class FlashItemInput:
    """One flash item as the console submits it. `item_id` None creates a new item."""

    sku_id: int
    flash_price_fen: int
    stock_total: int
    per_member_limit: int = 1
    sort: int = 0
    item_id: int | None = None
    confirm_below_cost: bool = False


def flash_item_save(*, session_id: int, data: FlashItemInput,
                    operator: AbstractBaseUser | None = None) -> FlashItem:
    """Create or update one item of a flash session with the guard rails. Not idempotent by itself
    (saving the same values twice changes nothing, though).

    - The price floor (flash_item_price_check); a newly confirmed below-cost price sets
      `below_cost_confirmed` and writes an admin log entry naming the operator.
    - A new item starts with stock_left = stock_total. A changed stock_total moves stock_left by
      the difference in one conditional UPDATE (WHERE stock_left >= stock_total - new total), so
      it never drops below what is sold or held; otherwise FlashStockBelowSold and nothing changes.
    - The SKU of an item with units sold or held cannot change (FlashItemInUse).

    Runs in the caller's transaction when there is one (the admin's change form holds one),
    otherwise in its own; takes no row lock (the UPDATE's WHERE clause is the guard).
    """
    if data.flash_price_fen < 0:
        raise ValidationFailed("秒杀价不能为负数", code="invalid_flash_price")
    if data.stock_total < 0:
        raise ValidationFailed("活动库存不能为负数", code="invalid_flash_stock")
    if data.per_member_limit < 1:
        raise ValidationFailed("每人限购至少 1 件", code="invalid_per_member_limit")
    with transaction.atomic():
        if data.item_id is None:
            return _flash_item_create(session_id=session_id, data=data, operator=operator)
        return _flash_item_update(session_id=session_id, data=data, operator=operator)


def _flash_item_create(*, session_id: int, data: FlashItemInput, operator: AbstractBaseUser | None) -> FlashItem:
    check = flash_item_price_check(sku_id=data.sku_id, flash_price_fen=data.flash_price_fen,
                                   confirm_below_cost=data.confirm_below_cost, operator=operator)
    item = FlashItem.objects.create(
        session_id=session_id, sku_id=data.sku_id, flash_price_fen=data.flash_price_fen,
        stock_total=data.stock_total, stock_left=data.stock_total, per_member_limit=data.per_member_limit,
        sort=data.sort, below_cost_confirmed=check.below)
    if check.below:
        _log_below_cost(item=item, check=check, price_fen=data.flash_price_fen, operator=operator)
    return item


def _flash_item_update(*, session_id: int, data: FlashItemInput, operator: AbstractBaseUser | None) -> FlashItem:
    assert data.item_id is not None
    current = FlashItem.objects.filter(pk=data.item_id, session_id=session_id).first()
    if current is None:
        raise FlashItemNotFound()
    unchanged_price = current.sku_id == data.sku_id and current.flash_price_fen == data.flash_price_fen
    check = flash_item_price_check(
        sku_id=data.sku_id, flash_price_fen=data.flash_price_fen, confirm_below_cost=data.confirm_below_cost,
        operator=operator, confirmed_before=unchanged_price and current.below_cost_confirmed)
    condition = Q(pk=current.pk, stock_left__gte=F("stock_total") - data.stock_total)
    if current.sku_id != data.sku_id:
        condition &= Q(stock_left=F("stock_total"))  # nothing sold or held under the old SKU
    updated = FlashItem.objects.filter(condition).update(
        stock_left=F("stock_left") + data.stock_total - F("stock_total"), stock_total=data.stock_total,
        sku_id=data.sku_id, flash_price_fen=data.flash_price_fen, per_member_limit=data.per_member_limit,
        sort=data.sort, below_cost_confirmed=check.below)
    if updated != 1:
        fresh = FlashItem.objects.get(pk=current.pk)
        taken = fresh.stock_total - fresh.stock_left
        if current.sku_id != data.sku_id and taken:
            raise FlashItemInUse(f"该商品已售出或占用 {taken} 件，不能更换 SKU", detail={"taken": taken})
        raise FlashStockBelowSold(
            f"活动库存不能少于已售出及待支付的 {taken} 件（填写的是 {data.stock_total} 件）",
            detail={"taken": taken, "stock_total": data.stock_total})
    item = FlashItem.objects.get(pk=current.pk)
    if check.below and not (unchanged_price and current.below_cost_confirmed):
        _log_below_cost(item=item, check=check, price_fen=data.flash_price_fen, operator=operator)
    return item


def flash_item_delete(*, item_id: int) -> None:
    """Remove an item nothing was sold or held from. Refuses (FlashItemInUse) otherwise, because
    orders refer to it; set its stock to what is taken instead. The DELETE's WHERE is the check."""
    with transaction.atomic():
        deleted, _ = FlashItem.objects.filter(pk=item_id, stock_left=F("stock_total"),
                                              reservations__isnull=True).delete()
        if deleted:
            return
        fresh = FlashItem.objects.filter(pk=item_id).first()
        if fresh is None:
            return
        taken = fresh.stock_total - fresh.stock_left
        raise FlashItemInUse(f"“{fresh}”已有订单（售出或占用 {taken} 件），不能删除；可把活动库存改为已售数量",
                             detail={"taken": taken})


def _log_below_cost(*, item: FlashItem, check: PriceCheck, price_fen: int,
                    operator: AbstractBaseUser | None) -> None:
    """The audit of a below-cost confirmation: who, which price, against which cost (admin log)."""
    assert operator is not None  # flash_item_price_check refuses a confirmation without one
    message = (f"确认低于成本价：SKU {check.sku_code} 秒杀价 ¥{yuan(price_fen)}，成本价 ¥{yuan(check.cost_fen)}，"
               f"底线 ¥{yuan(check.floor_fen)}")
    LogEntry.objects.log_actions(operator.pk, [item], CHANGE, change_message=message, single_object=True)


def below_cost_confirmations(*, item_ids: Sequence[int]) -> dict[int, LogEntry]:
    """The latest below-cost confirmation of each item (who and when), for the console."""
    if not item_ids:
        return {}
    entries = (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(FlashItem),
                                       object_id__in=[str(i) for i in item_ids],
                                       change_message__startswith="确认低于成本价")
               .select_related("user").order_by("action_time"))
    return {int(entry.object_id): entry for entry in entries if entry.object_id}


# ---------------------------------------------------------------------------------------------
# Overlap warnings


def _window(starts_at: dt.datetime, ends_at: dt.datetime) -> str:
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    end_text = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%m-%d %H:%M")
    return f"{start:%m-%d %H:%M}–{end_text}"


def _scope_products(activity: FullReduction) -> QuerySet[Product]:
    """The products a scoped activity applies to (a category covers its children)."""
    products = Product.objects.all()
    if activity.scope == Scope.CATEGORIES:
        category_ids = list(activity.categories.values_list("pk", flat=True))
        products = products.filter(Q(category_id__in=category_ids) | Q(category__parent_id__in=category_ids))
    elif activity.scope == Scope.PRODUCTS:
        products = products.filter(pk__in=list(activity.products.values_list("pk", flat=True)))
    excluded = list(activity.excluded_products.values_list("pk", flat=True))
    return products.exclude(pk__in=excluded) if excluded else products


def _overlapping_reductions(starts_at: dt.datetime, ends_at: dt.datetime) -> QuerySet[FullReduction]:
    return FullReduction.objects.filter(is_active=True, starts_at__lt=ends_at, ends_at__gt=starts_at)


def flash_session_overlaps(*, session_id: int) -> list[str]:
    """Warnings (in Chinese) for the session's SKUs that are also in another active flash session
    or 满减 activity whose time window overlaps this one. Reads only; nothing is refused."""
    session = FlashSession.objects.get(pk=session_id)
    if not session.is_active:
        return []
    items = list(FlashItem.objects.filter(session=session).select_related("sku"))
    return _flash_overlaps(session, items)


def _flash_overlaps(session: FlashSession, items: Iterable[FlashItem]) -> list[str]:
    codes = {item.sku_id: item.sku.code for item in items}
    if not codes:
        return []
    warnings: list[str] = []
    others = (FlashItem.objects.filter(sku_id__in=codes, session__is_active=True,
                                       session__starts_at__lt=session.ends_at, session__ends_at__gt=session.starts_at)
              .exclude(session_id=session.pk).select_related("session").order_by("session__starts_at", "sku_id"))
    for other in others:
        warnings.append(f"SKU {codes[other.sku_id]} 同时在秒杀场次“{other.session.name}”"
                        f"（{_window(other.session.starts_at, other.session.ends_at)}）中，时间有重叠")
    for activity in _overlapping_reductions(session.starts_at, session.ends_at):
        inside = Sku.objects.filter(pk__in=list(codes), product__in=_scope_products(activity))
        inside_codes = sorted(codes[pk] for pk in inside.values_list("pk", flat=True))
        if inside_codes:
            warnings.append(f"SKU {'、'.join(inside_codes)} 同时参加满减活动“{activity.name}”"
                            f"（{_window(activity.starts_at, activity.ends_at)}），时间有重叠")
    return warnings


def full_reduction_overlaps(*, activity_id: int) -> list[str]:
    """Warnings (in Chinese) naming the active 满减 activities and flash sessions that share
    products with this activity in an overlapping time window. Reads only; nothing is refused."""
    activity = FullReduction.objects.get(pk=activity_id)
    if not activity.is_active:
        return []
    mine = _scope_products(activity)
    warnings: list[str] = []
    for other in _overlapping_reductions(activity.starts_at, activity.ends_at).exclude(pk=activity.pk):
        if mine.filter(pk__in=_scope_products(other).values("pk")).exists():
            warnings.append(f"与满减活动“{other.name}”（{_window(other.starts_at, other.ends_at)}）"
                            "有相同商品且时间重叠")
    sessions = (FlashSession.objects.filter(is_active=True, starts_at__lt=activity.ends_at,
                                            ends_at__gt=activity.starts_at,
                                            items__sku__product__in=mine.values("pk"))
                .distinct().order_by("starts_at"))
    for session in sessions:
        warnings.append(f"部分商品同时在秒杀场次“{session.name}”（{_window(session.starts_at, session.ends_at)}）中，"
                        "时间有重叠")
    return warnings


# ---------------------------------------------------------------------------------------------
# 满减 ladders


@dataclass(frozen=True)
class StepInput:
    threshold_fen: int = 0
    discount_fen: int = 0
    threshold_count: int = 0
    pay_percent: int | None = None


def full_reduction_steps_check(*, kind: str, steps: Sequence[StepInput]) -> list[StepInput]:
    """The ladder sorted from the lowest rung, or ValidationFailed naming the rung that is wrong.

    满额减: each rung 满 X 减 Y with X > Y > 0; a higher threshold gives a bigger discount.
    满件折: each rung 满 N 件 P% with N ≥ 1 and 1 ≤ P ≤ 99; more pieces give a lower percent.
    Reads nothing.
    """
    if not steps:
        raise ValidationFailed("请至少设置一档优惠", code="full_reduction_no_steps")
    if kind == FullReduction.Kind.AMOUNT:
        ladder = sorted(steps, key=lambda s: s.threshold_fen)
        for step in ladder:
            name = f"满 ¥{yuan(step.threshold_fen)} 的一档"
            if step.discount_fen <= 0:
                raise ValidationFailed(f"{name}：减免金额必须大于 0", code="full_reduction_invalid_step")
            if step.threshold_fen <= step.discount_fen:
                raise ValidationFailed(f"{name}：门槛必须大于减免金额", code="full_reduction_invalid_step")
        for lower, upper in zip(ladder, ladder[1:], strict=False):
            if upper.threshold_fen == lower.threshold_fen:
                raise ValidationFailed(f"有两档门槛都是 ¥{yuan(upper.threshold_fen)}",
                                       code="full_reduction_ladder_order")
            if upper.discount_fen <= lower.discount_fen:
                raise ValidationFailed(
                    f"满 ¥{yuan(upper.threshold_fen)} 的一档减免应多于满 ¥{yuan(lower.threshold_fen)} 的一档",
                    code="full_reduction_ladder_order")
        return ladder
    ladder = sorted(steps, key=lambda s: s.threshold_count)
    for step in ladder:
        if step.threshold_count < 1:
            raise ValidationFailed("件数至少为 1", code="full_reduction_invalid_step")
        if step.pay_percent is None or not 1 <= step.pay_percent <= 99:
            raise ValidationFailed(f"满 {step.threshold_count} 件的一档：折扣应为 1–99（90 表示 9 折）",
                                   code="full_reduction_invalid_step")
    for lower, upper in zip(ladder, ladder[1:], strict=False):
        if upper.threshold_count == lower.threshold_count:
            raise ValidationFailed(f"有两档都是满 {upper.threshold_count} 件", code="full_reduction_ladder_order")
        if (upper.pay_percent or 0) >= (lower.pay_percent or 0):
            raise ValidationFailed(f"满 {upper.threshold_count} 件的一档折扣应低于满 {lower.threshold_count} 件的一档",
                                   code="full_reduction_ladder_order")
    return ladder


# ---------------------------------------------------------------------------------------------
# 拼团 items


@dataclass(frozen=True)
class GroupBuyItemInput:
    """One group-buy item as the console submits it. `item_id` None creates a new item."""

    sku_id: int
    group_price_fen: int
    stock_total: int
    leader_price_fen: int | None = None
    sort: int = 0
    item_id: int | None = None
    confirm_below_cost: bool = False


def groupbuy_item_price_check(*, data: GroupBuyItemInput, operator: AbstractBaseUser | None = None,
                              confirmed_before: bool = False) -> PriceCheck:
    """The flash sales' price floor for a group-buy item: its group price and its leader price
    (the lower one decides) against the SKU's cost × floor; a leader price above the group price
    is refused. Reads only; raises when refused."""
    if data.group_price_fen < 0 or (data.leader_price_fen is not None and data.leader_price_fen < 0):
        raise ValidationFailed("拼团价不能为负数", code="invalid_group_price")
    if data.leader_price_fen is not None and data.leader_price_fen > data.group_price_fen:
        raise ValidationFailed("团长价不能高于拼团价", code="leader_price_above_group_price")
    lowest, label = data.group_price_fen, "拼团价"
    if data.leader_price_fen is not None and data.leader_price_fen < lowest:
        lowest, label = data.leader_price_fen, "团长价"
    return flash_item_price_check(sku_id=data.sku_id, flash_price_fen=lowest,
                                  confirm_below_cost=data.confirm_below_cost, operator=operator,
                                  confirmed_before=confirmed_before, price_label=label)


def groupbuy_item_save(*, activity_id: int, data: GroupBuyItemInput,
                       operator: AbstractBaseUser | None = None) -> GroupBuyItem:
    """Create or update one item of a group-buy activity with the flash sales' guard rails: the
    price floor (a newly confirmed below-cost price is logged with the operator), and a changed
    stock_total moves stock_left by the difference in one conditional UPDATE, never below what
    is sold or held (GroupBuyStockBelowSold). The SKU of an item with units taken cannot change.
    Runs in the caller's transaction when there is one, otherwise in its own."""
    if data.stock_total < 0:
        raise ValidationFailed("活动库存不能为负数", code="invalid_group_stock")
    with transaction.atomic():
        current = None
        if data.item_id is not None:
            current = GroupBuyItem.objects.filter(pk=data.item_id, activity_id=activity_id).first()
            if current is None:
                raise GroupBuyItemNotFound()
        unchanged = current is not None and (current.sku_id, current.group_price_fen, current.leader_price_fen) == (
            data.sku_id, data.group_price_fen, data.leader_price_fen)
        confirmed_before = unchanged and current is not None and current.below_cost_confirmed
        check = groupbuy_item_price_check(data=data, operator=operator, confirmed_before=confirmed_before)
        if current is None:
            item = GroupBuyItem.objects.create(
                activity_id=activity_id, sku_id=data.sku_id, group_price_fen=data.group_price_fen,
                leader_price_fen=data.leader_price_fen, stock_total=data.stock_total, stock_left=data.stock_total,
                sort=data.sort, below_cost_confirmed=check.below)
        else:
            condition = Q(pk=current.pk, stock_left__gte=F("stock_total") - data.stock_total)
            if current.sku_id != data.sku_id:
                condition &= Q(stock_left=F("stock_total"))  # nothing sold or held under the old SKU
            updated = GroupBuyItem.objects.filter(condition).update(
                stock_left=F("stock_left") + data.stock_total - F("stock_total"), stock_total=data.stock_total,
                sku_id=data.sku_id, group_price_fen=data.group_price_fen, leader_price_fen=data.leader_price_fen,
                sort=data.sort, below_cost_confirmed=check.below)
            if updated != 1:
                fresh = GroupBuyItem.objects.get(pk=current.pk)
                taken = fresh.stock_total - fresh.stock_left
                raise GroupBuyStockBelowSold(
                    f"活动库存不能少于已售出及待支付的 {taken} 件（填写的是 {data.stock_total} 件），"
                    "且有订单后不能更换 SKU",
                    detail={"taken": taken, "stock_total": data.stock_total})
            item = GroupBuyItem.objects.get(pk=current.pk)
        if check.below and not confirmed_before:
            assert operator is not None  # the price check refuses a confirmation without one
            lowest = min(data.group_price_fen, data.group_price_fen if data.leader_price_fen is None
                         else data.leader_price_fen)
            message = (f"确认低于成本价：SKU {check.sku_code} 拼团最低价 ¥{yuan(lowest)}，"
                       f"成本价 ¥{yuan(check.cost_fen)}，底线 ¥{yuan(check.floor_fen)}")
            LogEntry.objects.log_actions(operator.pk, [item], CHANGE, change_message=message, single_object=True)
        return item
