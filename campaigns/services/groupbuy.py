"""Group buying (拼团): seats, groups and their outcome.

Shop (the orchestrator) calls these with plain values — campaigns never imports shop:

- placement (`groupbuy_reserve`, through campaigns.services.checkout.campaign_reserve): a
  blocked member is refused (campaigns.services.guards); a join takes the member's and the
  device's daily join caps, then the member's allowance and the activity stock are taken by
  conditional UPDATEs, and a pending GroupBuySeat records which group the order opens or joins;
- cancel of an unpaid order (`groupbuy_release`, through campaign_release): both go back, once;
- payment (`groupbuy_on_paid`, from the order's on_paid inside the payment's transaction): the
  seat is taken under the group's row lock. A payer who finds the group full, finished or
  expired opens a new group or is refunded, per the activity (GroupBuyActivity.overflow): never a
  group larger than its size (the lock, and a CheckConstraint behind it);
- expiry (`groupbuy_settle_expired`, from shop's expiry job) and the console's close and
  force-succeed: a group that fails marks its paid seats for refund and gives their activity
  stock and allowance back, once; shop then refunds the orders through its refund path (the
  coupons and points come back there, once per order).

Lock order (docs/architecture.md): the seat (the member's own row), then the group, then the
allowance, then the item — inside the payment's or placement's order after coupons and before
the member row. Placement takes the daily join caps (ActionAllowance: the member's, then the
device's) before the allowance.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.module_loading import import_string

from campaigns.errors import (
    GroupBuyAlreadyJoined,
    GroupBuyClosed,
    GroupBuyFull,
    GroupBuyItemNotFound,
    GroupBuyJoinLimitReached,
    GroupBuyLimitExceeded,
    GroupBuyNewMembersOnly,
    GroupBuyNotActive,
    GroupBuyNotFound,
    GroupBuySoldOut,
)
from campaigns.models import (
    GROUP_BUY_MACHINE,
    GroupBuy,
    GroupBuyAction,
    GroupBuyActivity,
    GroupBuyAllowance,
    GroupBuyItem,
    GroupBuySeat,
    GroupBuyStatus,
    SeatRole,
    SeatStatus,
)
from campaigns.services.guards import allowance_take, day_window, device_seen, member_check_not_blocked
from core.audit import Actor
from core.db import require_transaction
from core.errors import ValidationFailed
from members.models import Member
from wechat.messages import subscribe_message_queue

logger = logging.getLogger(__name__)

GROUP_FAILED_REASON = "拼团未成功，自动退款"
GROUP_OVERFLOW_REASON = "该团已满员，自动退款"


@dataclass(frozen=True)
class GroupBuyWant:
    """An order's group-buy line: the item, the group joined (None: open a new one), the units, and
    the mini-program's device id ("" when it sent none: only the member's cap applies)."""

    item_id: int
    group_id: int | None
    quantity: int
    device_id: str = ""


# --- placement ---------------------------------------------------------------------------------------


def groupbuy_item_running(*, item_id: int, now: dt.datetime) -> GroupBuyItem:
    """The item with its activity, when the activity is enabled and running at `now`.

    GroupBuyItemNotFound for an unknown item, GroupBuyNotActive outside the window."""
    item = GroupBuyItem.objects.select_related("activity").filter(pk=item_id).first()
    if item is None:
        raise GroupBuyItemNotFound(detail={"group_item_id": item_id})
    activity = item.activity
    if not (activity.is_active and activity.starts_at <= now < activity.ends_at):
        raise GroupBuyNotActive(detail={"group_item_id": item_id})
    return item


def groupbuy_join_check(*, member_id: int, item_id: int, group_id: int | None, now: dt.datetime) -> None:
    """Whether `member_id` may open (group_id None) or join this group now; raises why not.

    A member an operator blocked (or a deleted account) may do neither (403 member_blocked).
    Joining: the group must be of this item (else GroupBuyNotFound), forming and not expired
    (GroupBuyClosed), have a seat left (GroupBuyFull), not hold the member already
    (GroupBuyAlreadyJoined), and for a 老带新 activity the member must never have paid an order
    (GroupBuyNewMembersOnly). An unlocked read: the seat itself is taken at payment, under the
    group's lock. Reads only."""
    member_check_not_blocked(member_id=member_id)
    item = groupbuy_item_running(item_id=item_id, now=now)
    if group_id is None:
        return
    group = GroupBuy.objects.filter(pk=group_id, item_id=item.pk).first()
    if group is None:
        raise GroupBuyNotFound(detail={"group_id": group_id})
    if group.status != GroupBuyStatus.FORMING or group.expires_at <= now:
        raise GroupBuyClosed(detail={"group_no": group.group_no})
    if group.seats_left <= 0:
        raise GroupBuyFull(detail={"group_no": group.group_no})
    if group.leader_id == member_id or GroupBuySeat.objects.filter(
            group=group, member_id=member_id, status__in=[SeatStatus.SEATED, SeatStatus.PENDING]).exists():
        raise GroupBuyAlreadyJoined(detail={"group_no": group.group_no})
    if item.activity.new_members_only and Member.objects.filter(pk=member_id, paid_order_count__gt=0).exists():
        raise GroupBuyNewMembersOnly(detail={"group_no": group.group_no})


def groupbuy_reserve(*, member_id: int, order_id: int, order_no: str, want: GroupBuyWant, now: dt.datetime) -> int:
    """Take the member's allowance and the activity stock for an order's group-buy line, and record
    its pending seat. Returns the activity's unpaid timeout in minutes.

    Runs in the caller's (placement) transaction, in a savepoint: on any refusal nothing of this
    call remains. groupbuy_join_check first (blocked member, group rules); then, each a
    conditional UPDATE with its row count checked: for a join, the member's and the device's
    daily join caps (GroupBuyJoinLimitReached, `detail.limit` member_daily / device_daily;
    settings.GROUP_BUY_DAILY_JOIN_LIMIT, GROUP_BUY_DEVICE_DAILY_JOIN_LIMIT; a cancelled order does
    not give its join back), the allowance (GroupBuyLimitExceeded), the item's stock_left
    (GroupBuySoldOut). Locks the cap rows, the allowance row, then the item. Not idempotent by
    itself: the order's idempotency key makes placement idempotent.
    """
    require_transaction("groupbuy_reserve")
    if want.quantity < 1:
        raise ValidationFailed("拼团商品数量有误", code="invalid_quantity", detail={"group_item_id": want.item_id})
    groupbuy_join_check(member_id=member_id, item_id=want.item_id, group_id=want.group_id, now=now)
    item = GroupBuyItem.objects.select_related("activity").get(pk=want.item_id)
    activity = item.activity
    with transaction.atomic():
        if want.group_id is not None:
            _take_join_allowances(member_id=member_id, device_id=want.device_id, now=now)
        device_seen(device_id=want.device_id, member_id=member_id)
        _take(activity=activity, item_id=item.pk, member_id=member_id, quantity=want.quantity)
        GroupBuySeat.objects.create(order_id=order_id, order_no=order_no, member_id=member_id, item=item,
                                    group_id=want.group_id,
                                    role=SeatRole.LEADER if want.group_id is None else SeatRole.MEMBER,
                                    quantity=want.quantity)
    return activity.unpaid_timeout_minutes


def _take_join_allowances(*, member_id: int, device_id: str, now: dt.datetime) -> None:
    """The member's daily joins, then the device's (campaigns.services.guards.allowance_take)."""
    day = day_window(now)
    caps = [(f"groupbuy:join:member:{member_id}", settings.GROUP_BUY_DAILY_JOIN_LIMIT, "member_daily")]
    if device_id:
        caps.append((f"groupbuy:join:device:{device_id[:64]}", settings.GROUP_BUY_DEVICE_DAILY_JOIN_LIMIT,
                     "device_daily"))
    for key, limit, name in caps:
        if not allowance_take(key=key, window=day, limit=limit):
            raise GroupBuyJoinLimitReached(detail={"limit": name, "max": limit})


def _take(*, activity: GroupBuyActivity, item_id: int, member_id: int, quantity: int) -> None:
    limit = activity.per_member_limit
    if quantity > limit:
        raise GroupBuyLimitExceeded(detail={"per_member_limit": limit})
    GroupBuyAllowance.objects.bulk_create([GroupBuyAllowance(activity=activity, member_id=member_id)],
                                          ignore_conflicts=True)
    if GroupBuyAllowance.objects.filter(activity=activity, member_id=member_id, quantity__lte=limit - quantity) \
            .update(quantity=F("quantity") + quantity) != 1:
        raise GroupBuyLimitExceeded(detail={"per_member_limit": limit})
    if GroupBuyItem.objects.filter(pk=item_id, stock_left__gte=quantity).update(
            stock_left=F("stock_left") - quantity) != 1:
        raise GroupBuySoldOut(detail={"group_item_id": item_id})


def _give_back(seat: GroupBuySeat, *, now: dt.datetime) -> bool:
    """The seat's allowance and activity stock back, exactly once (stock_returned_at claims it)."""
    if GroupBuySeat.objects.filter(pk=seat.pk, stock_returned_at__isnull=True).update(stock_returned_at=now) != 1:
        return False
    GroupBuyAllowance.objects.filter(activity_id=seat.item.activity_id, member_id=seat.member_id).update(
        quantity=Greatest(F("quantity") - seat.quantity, Value(0)))
    # An operator may have lowered stock_total meanwhile: never above it (the CheckConstraint).
    GroupBuyItem.objects.filter(pk=seat.item_id).update(stock_left=Least(F("stock_left") + seat.quantity,
                                                                         F("stock_total")))
    return True


def groupbuy_release(*, order_id: int, now: dt.datetime | None = None) -> int:
    """A cancelled unpaid order's seat: PENDING → CANCELLED, its allowance and stock back. Returns
    the units released (0: not a group order, or already released).

    Exactly once even when called twice or concurrently: the conditional UPDATE on the seat's
    status claims it. Runs in the caller's (cancel) transaction."""
    require_transaction("groupbuy_release")
    now = now or timezone.now()
    seat = GroupBuySeat.objects.select_related("item").filter(order_id=order_id).first()
    if seat is None or GroupBuySeat.objects.filter(pk=seat.pk, status=SeatStatus.PENDING).update(
            status=SeatStatus.CANCELLED) != 1:
        return 0
    return seat.quantity if _give_back(seat, now=now) else 0


# --- payment -----------------------------------------------------------------------------------------


class SeatOutcome:
    """What a payment did with its seat (groupbuy_on_paid's answer)."""

    OPENED = "opened"  # the leader opened a group
    JOINED = "joined"  # took a seat; the group is still forming
    SUCCEEDED = "succeeded"  # took the last seat: the group succeeded
    OPENED_NEW = "opened_new"  # the group had no seat left: the payer leads a new group
    REFUND = "refund"  # the group had no seat left: the payment must be refunded in full
    ALREADY = "already"  # this payment was recorded before


def groupbuy_on_paid(*, order_id: int, order_no: str, paid_fen: int, paid_at: dt.datetime) -> str | None:
    """Seat the payer of a group-buy order; None for an order that is not one.

    Inside the payment's transaction (after the order and its coupons; before the member row).
    Locks the seat, then the group: every payer for a group's seats queues on that one row, so
    exactly `size` are seated. The leader's payment opens the group (its number is the order's,
    open for the activity's open_hours). A payer who finds no seat (full, succeeded, failed or
    expired; or already seated by another order) is placed per the activity: a new group led by
    them (while the activity runs), or SeatOutcome.REFUND — the seat is marked for refund and its
    stock and allowance go back; the caller refunds the payment. Filling the last seat succeeds
    the group (GROUP_BUY_MACHINE) and tells its members after commit. Idempotent: a seat already
    past PENDING answers ALREADY (REFUND for one marked for refund). A seat the order's cancel
    released raises GroupBuyClosed: a late payment of a cancelled group order is refunded.
    """
    require_transaction("groupbuy_on_paid")
    # of=("self",): the seat alone; the item and activity rows it joins stay unlocked (every payer
    # of the item would queue on them, and the item comes last in the lock order).
    seat = (GroupBuySeat.objects.select_for_update(of=("self",)).select_related("item__activity")
            .filter(order_id=order_id).first())
    if seat is None:
        return None
    if seat.status == SeatStatus.CANCELLED:
        raise GroupBuyClosed(detail={"order_id": order_id})
    if seat.status == SeatStatus.REFUND:
        return SeatOutcome.REFUND
    if seat.status == SeatStatus.SEATED:
        return SeatOutcome.ALREADY
    now = timezone.now()
    GroupBuySeat.objects.filter(pk=seat.pk).update(paid_fen=paid_fen)
    if seat.group_id is None:
        _open_group(seat, group_no=order_no, paid_at=paid_at, now=now)
        return SeatOutcome.OPENED
    group = GroupBuy.objects.select_for_update().get(pk=seat.group_id)
    already = GroupBuySeat.objects.filter(group=group, member_id=seat.member_id, status=SeatStatus.SEATED).exists()
    if group.status == GroupBuyStatus.FORMING and group.expires_at > now and group.seats_left > 0 and not already:
        GroupBuy.objects.filter(pk=group.pk).update(seats_taken=F("seats_taken") + 1)
        GroupBuySeat.objects.filter(pk=seat.pk).update(status=SeatStatus.SEATED, paid_at=paid_at)
        GROUP_BUY_MACHINE.record(group, action=GroupBuyAction.JOINED, actor=Actor.MEMBER,
                                 note=f"会员{seat.member_id} 参团", data={"order_id": order_id})
        if group.seats_left - 1 == 0:
            GROUP_BUY_MACHINE.transition(pk=group.pk, to=GroupBuyStatus.SUCCEEDED, action=GroupBuyAction.SUCCEEDED,
                                         note="人数已满，拼团成功")
            _notify_after_commit(group.pk)
            return SeatOutcome.SUCCEEDED
        return SeatOutcome.JOINED
    activity = seat.item.activity
    reason = "已在该团中" if already else f"该团{'已满员' if group.seats_left <= 0 else '已结束'}"
    running = activity.is_active and activity.starts_at <= now < activity.ends_at
    if activity.overflow == GroupBuyActivity.Overflow.OPEN_NEW and running:
        GROUP_BUY_MACHINE.record(group, action=GroupBuyAction.OVERFLOW, actor=Actor.MEMBER,
                                 note=f"{reason}，会员{seat.member_id} 自动开新团", data={"order_id": order_id})
        _open_group(seat, group_no=order_no, paid_at=paid_at, now=now)
        return SeatOutcome.OPENED_NEW
    GROUP_BUY_MACHINE.record(group, action=GroupBuyAction.OVERFLOW, actor=Actor.MEMBER,
                             note=f"{reason}，会员{seat.member_id} 的付款自动退款", data={"order_id": order_id})
    GroupBuySeat.objects.filter(pk=seat.pk).update(status=SeatStatus.REFUND, paid_at=paid_at,
                                                   refund_reason=GROUP_OVERFLOW_REASON)
    _give_back(seat, now=now)
    return SeatOutcome.REFUND


def _open_group(seat: GroupBuySeat, *, group_no: str, paid_at: dt.datetime, now: dt.datetime) -> GroupBuy:
    """A new group led by the seat's member (the group's number is the paying order's)."""
    activity = seat.item.activity
    group = GroupBuy.objects.create(
        group_no=group_no, activity=activity, item_id=seat.item_id, leader_id=seat.member_id,
        size=activity.group_size, seats_taken=1, expires_at=now + dt.timedelta(hours=activity.open_hours))
    GroupBuySeat.objects.filter(pk=seat.pk).update(group=group, role=SeatRole.LEADER, status=SeatStatus.SEATED,
                                                   paid_at=paid_at)
    GROUP_BUY_MACHINE.record(group, action=GroupBuyAction.OPENED, from_status="", actor=Actor.MEMBER,
                             note=f"会员{seat.member_id} 开团", data={"order_id": seat.order_id})
    return group


# --- outcome: expiry, operators ------------------------------------------------------------------------


def groupbuy_due_ids(*, now: dt.datetime | None = None, limit: int | None = None) -> list[int]:
    """Forming groups whose time is up, oldest first (the expiry job's work list)."""
    now = now or timezone.now()
    return list(GroupBuy.objects.filter(status=GroupBuyStatus.FORMING, expires_at__lte=now)
                .order_by("expires_at", "id").values_list("pk", flat=True)[:limit or settings.GROUP_BUY_EXPIRE_BATCH])


def groupbuy_settle_expired(*, group_id: int, now: dt.datetime | None = None) -> str:
    """Settle a group whose time is up. Returns its status now ("" when it was not due).

    One durable transaction; locks the group (SKIP LOCKED: a payment seating someone in it right
    now, or another run of the job, holds it, and the next run comes back). With simulated
    completion on and at least simulate_percent % of its seats paid, the empty seats are filled
    (simulated_seats) and it succeeds; otherwise it fails and every paid seat is marked for
    refund with its stock and allowance back (groupbuy_fail). Idempotent: a group no longer
    forming, or not yet expired, is left alone."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        group = (GroupBuy.objects.select_for_update(skip_locked=True, of=("self",)).select_related("activity")
                 .filter(pk=group_id).first())
        if group is None or group.status != GroupBuyStatus.FORMING or group.expires_at > now:
            return ""
        percent = group.activity.simulate_percent
        if percent is not None and group.seats_taken * 100 >= percent * group.size:
            fill = group.size - group.seats_taken - group.simulated_seats
            GROUP_BUY_MACHINE.transition(
                pk=group.pk, to=GroupBuyStatus.SUCCEEDED, action=GroupBuyAction.SIMULATED,
                note=f"到期时已付款 {group.seats_taken}/{group.size} 人（≥{percent}%），模拟补齐 {fill} 人",
                fields={"simulated_seats": group.simulated_seats + fill})
            _notify_after_commit(group.pk)
            return GroupBuyStatus.SUCCEEDED
        _fail(group, action=GroupBuyAction.EXPIRED, actor=Actor.SYSTEM, operator=None,
              note=f"到期时已付款 {group.seats_taken}/{group.size} 人，拼团失败", now=now)
        return GroupBuyStatus.FAILED


def groupbuy_close(*, group_id: int, reason: str, operator: AbstractBaseUser | None) -> GroupBuy:
    """运营关闭: fail a forming group now, with the operator's reason (audited); its paid members
    are refunded (the hooks in settings.GROUP_BUY_FAILED_HOOKS run after commit). One durable
    transaction; locks the group. GroupBuyInvalidTransition when it is no longer forming."""
    reason = _reason(reason)
    with transaction.atomic(durable=True):
        group = GroupBuy.objects.select_for_update().get(pk=group_id)
        _fail(group, action=GroupBuyAction.CLOSED, actor=Actor.OPERATOR, operator=operator,
              note=f"运营关闭：{reason}", now=timezone.now(), reason=reason)
    return GroupBuy.objects.get(pk=group_id)


def groupbuy_force_succeed(*, group_id: int, reason: str, operator: AbstractBaseUser | None) -> GroupBuy:
    """运营强制成团: a forming group succeeds now, its empty seats filled (simulated_seats), with the
    operator's reason (audited); its orders become shippable. One durable transaction; locks the
    group. GroupBuyInvalidTransition when it is no longer forming."""
    reason = _reason(reason)
    with transaction.atomic(durable=True):
        group = GroupBuy.objects.select_for_update().get(pk=group_id)
        fill = group.size - group.seats_taken - group.simulated_seats
        _, changed = GROUP_BUY_MACHINE.transition(
            pk=group.pk, to=GroupBuyStatus.SUCCEEDED, action=GroupBuyAction.FORCED, actor=Actor.OPERATOR,
            operator=operator, note=f"运营强制成团：{reason}", data={"filled": fill},
            allowed_from=[GroupBuyStatus.FORMING], fields={"simulated_seats": group.simulated_seats + max(fill, 0)})
        if changed:
            _notify_after_commit(group.pk)
    return GroupBuy.objects.get(pk=group_id)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("请填写原因", code="reason_required")
    return reason[:200]


def _fail(group: GroupBuy, *, action: str, actor: str, operator: AbstractBaseUser | None, note: str,
          now: dt.datetime, reason: str = "") -> None:
    """The group fails; each paid seat is marked for refund (once: conditional on SEATED) with its
    stock and allowance back; after commit the failed-group hooks refund the orders and the
    members hear of it."""
    _, changed = GROUP_BUY_MACHINE.transition(pk=group.pk, to=GroupBuyStatus.FAILED, action=action, actor=actor,
                                              operator=operator, note=note, fields={"close_reason": reason})
    if not changed:
        return
    seats = list(GroupBuySeat.objects.select_related("item").filter(group=group, status=SeatStatus.SEATED)
                 .order_by("pk"))
    refunded = []
    for seat in seats:
        if GroupBuySeat.objects.filter(pk=seat.pk, status=SeatStatus.SEATED).update(
                status=SeatStatus.REFUND, refund_reason=GROUP_FAILED_REASON) == 1:
            _give_back(seat, now=now)
            refunded.append(seat.order_id)
    _notify_after_commit(group.pk)
    if refunded:
        transaction.on_commit(lambda: groupbuy_failed_hooks_run(order_ids=refunded), robust=True)


def groupbuy_failed_hooks_run(*, order_ids: list[int]) -> None:
    """Tell the layers above that these paid group-buy orders must be refunded in full:
    settings.GROUP_BUY_FAILED_HOOKS (shop's refund), each called with the order ids. A failing
    hook is logged: the expiry job finds the orders again (groupbuy_seats_awaiting_refund)."""
    for path in settings.GROUP_BUY_FAILED_HOOKS:
        try:
            import_string(path)(order_ids=order_ids)
        except Exception:  # logged; the expiry job's sweep refunds what a failed hook left
            logger.exception("group-buy failed hook %s for orders %s", path, order_ids)


def _notify_after_commit(group_id: int) -> None:
    transaction.on_commit(lambda: groupbuy_notify_result(group_id=group_id), robust=True)


def groupbuy_notify_result(*, group_id: int) -> int:
    """拼团结果 subscribe message to each paid member of a group that succeeded or failed, where they
    consented (wechat.messages: no credit, no send). Once per member and group (the message log's
    reference). Returns the messages queued."""
    group = GroupBuy.objects.select_related("item__sku__product").get(pk=group_id)
    if group.status == GroupBuyStatus.FORMING:
        return 0
    succeeded = group.status == GroupBuyStatus.SUCCEEDED
    status = SeatStatus.SEATED if succeeded else SeatStatus.REFUND
    seats = GroupBuySeat.objects.filter(group=group, status=status).select_related("member")
    sent = 0
    for seat in seats:
        with transaction.atomic():
            subscribe_message_queue(
                member_id=seat.member_id, openid=seat.member.openid, template_key="group_buy_result",
                reference=f"group:{group.group_no}:{group.status}",
                values={"group_no": group.group_no, "goods": group.item.sku.product.name,
                        "result": "拼团成功" if succeeded else "拼团失败",
                        "amount": seat.paid_fen,
                        "remark": "商家将尽快发货" if succeeded else "款项将原路退回，请注意查收"})
        sent += 1
    return sent
