"""砍价 (bargain): launch, help (cut), and the launch's part in an order's life.

The cut rule (DESIGN.md §7): each help takes a random 20–50 % of what remains above the floor,
keeping ¥0.01 for every helper still needed after this one, so every helper cuts at least one
fen and the last needed helper reaches the floor exactly (`bargain_cut`).

The price only goes down and never below the floor, whatever the concurrency: a help reads the
launch under its row lock and writes the cut with a conditional UPDATE on the price and help count
it read (and the launch still ongoing), its row count checked; the table's CheckConstraints hold
the floor, the helper count and "at the floor iff every helper helped" whatever any code does.

Orders: checkout (shop) prices a line bought through a launch at the launch's current price
(`campaigns.selectors.bargain.bargain_offers`), and inside its placement transaction
`bargain_reserve` moves the launch to ORDERED (its price must still be the priced one) and takes
one unit of activity stock;
`bargain_release` gives both back when the unpaid order is cancelled, `bargain_confirm_paid`
marks the launch PURCHASED, `bargain_reclaim` takes it again for a late payment.

Lock order: the member's and the device's allowance rows (campaigns.services.guards), then the
launch, then the activity (its stock) — campaign rows, after coupons and before the member.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from campaigns.errors import (
    BargainActivityNotFound,
    BargainAlreadyHelped,
    BargainFinished,
    BargainHelpLimitReached,
    BargainLaunchNotFound,
    BargainNotActive,
    BargainNotBuyable,
    BargainOwnLaunch,
    BargainPriceChanged,
    BargainSoldOut,
    BargainStockBelowTaken,
)
from campaigns.models import BARGAIN_MACHINE, BargainActivity, BargainHelp, BargainLaunch, BargainStatus
from campaigns.models.bargain import BARGAIN_LIVE, BargainAction
from campaigns.services.guards import ALL_TIME, allowance_take, day_window, device_seen, member_check_not_blocked
from core.audit import Actor
from core.db import require_transaction
from core.tracking import track
from members.models import Member

BS = BargainStatus
_rng = random.SystemRandom()

# The cut takes this share of what remains, drawn uniformly (DESIGN.md §7: 20–50 %).
CUT_MIN_PERCENT = 20
CUT_MAX_PERCENT = 50


def bargain_cut(*, remaining_fen: int, helpers_left: int, rng: random.Random | None = None) -> int:
    """What this help cuts, in fen: all that remains for the last needed helper; otherwise a
    random 20–50 % of it, at least 1 fen, leaving at least 1 fen for each of the others.

    `remaining_fen` is the price above the floor, `helpers_left` the helpers still needed counting
    this one; requires remaining_fen >= helpers_left >= 1 (the activity guarantees it at launch and
    every cut keeps it).
    """
    if helpers_left < 1 or remaining_fen < helpers_left:
        raise ValueError(f"cannot cut {remaining_fen} fen for {helpers_left} helpers")
    if helpers_left == 1:
        return remaining_fen
    percent = (rng or _rng).uniform(CUT_MIN_PERCENT, CUT_MAX_PERCENT)
    cut = int(remaining_fen * percent / 100)
    return max(1, min(cut, remaining_fen - (helpers_left - 1)))


def _launch_no() -> str:
    return f"K{timezone.localdate():%y%m%d}{secrets.token_hex(4).upper()}"


def _activity_running(activity: BargainActivity, now: dt.datetime) -> bool:
    return activity.is_active and activity.starts_at <= now < activity.ends_at


def bargain_launch(*, member_id: int, activity_id: int, now: dt.datetime | None = None) -> tuple[BargainLaunch, bool]:
    """发起砍价: start the member's bargain of an activity. Returns (launch, created).

    The member's live launch of the activity (ongoing, at the floor, or ordered) is returned as it
    is (created False): one at a time, held by a partial unique constraint, so two taps at once
    end with one launch. Refuses a blocked member (403 member_blocked), an activity that is not
    running (409 bargain_not_active) or has no stock left (409 bargain_sold_out; the stock itself
    is taken when the launch is ordered). Outermost transaction; writes a LAUNCHED audit row.
    """
    now = now or timezone.now()
    member_check_not_blocked(member_id=member_id)
    activity = BargainActivity.objects.filter(pk=activity_id).first()
    if activity is None:
        raise BargainActivityNotFound(detail={"activity_id": activity_id})
    live = BargainLaunch.objects.filter(activity=activity, member_id=member_id, status__in=BARGAIN_LIVE).first()
    if live is not None:
        return live, False
    if not _activity_running(activity, now):
        raise BargainNotActive(detail={"activity_id": activity_id})
    if activity.stock_left <= 0:
        raise BargainSoldOut(detail={"activity_id": activity_id})
    expires_at = min(now + dt.timedelta(hours=activity.hours_to_finish), activity.ends_at)
    try:
        with transaction.atomic(durable=True):
            launch = BargainLaunch.objects.create(
                launch_no=_launch_no(), activity=activity, member_id=member_id,
                start_price_fen=activity.start_price_fen, floor_price_fen=activity.floor_price_fen,
                current_price_fen=activity.start_price_fen, helpers_needed=activity.helpers_needed,
                expires_at=expires_at)
            BARGAIN_MACHINE.record(launch, action=BargainAction.LAUNCHED, from_status="", actor=Actor.MEMBER,
                                   data={"activity_id": activity.pk})
            track("bargain_launched", member_id=member_id, properties={"launch_no": launch.launch_no})
    except IntegrityError:  # a concurrent launch of the same member won
        live = BargainLaunch.objects.filter(activity=activity, member_id=member_id, status__in=BARGAIN_LIVE).first()
        if live is None:
            raise
        return live, False
    return launch, True


@dataclass(frozen=True)
class HelpResult:
    launch: BargainLaunch
    help: BargainHelp


def bargain_help(*, helper_id: int, launch_no: str, device_id: str = "",
                 now: dt.datetime | None = None) -> HelpResult:
    """帮砍: the helper cuts the launch's price by the rule of `bargain_cut`.

    Refuses, changing nothing: an unknown launch (404 bargain_launch_not_found); a blocked helper
    (403 member_blocked); the launcher themself (409 bargain_own_launch); a second help of the same
    launch (409 bargain_already_helped, also when both arrive at once: a unique constraint); a
    launch that takes no more help — at the floor, ordered, bought, expired or closed (409
    bargain_finished); a used-up cap (409 bargain_help_limit_reached, `detail.limit`: the helper's
    daily helps, the device's daily helps, the helper's helps in this activity).

    One durable transaction. Locks the helper's and device's allowance rows, then the launch row;
    the cut is a conditional UPDATE on the price and help count read under that lock. The help that
    reaches the floor moves the launch to SUCCEEDED (buyable until now + the buy window).
    """
    now = now or timezone.now()
    member_check_not_blocked(member_id=helper_id)
    launch = BargainLaunch.objects.filter(launch_no=launch_no).values(
        "pk", "member_id", "activity_id", "activity__helps_per_helper").first()
    if launch is None:
        raise BargainLaunchNotFound(detail={"launch_no": launch_no})
    if launch["member_id"] == helper_id:
        raise BargainOwnLaunch(detail={"launch_no": launch_no})
    if BargainHelp.objects.filter(launch_id=launch["pk"], helper_id=helper_id).exists():
        raise BargainAlreadyHelped(detail={"launch_no": launch_no})
    registered_at = Member.objects.filter(pk=helper_id).values_list("registered_at", flat=True).first()
    try:
        with transaction.atomic(durable=True):
            _take_help_allowances(helper_id=helper_id, device_id=device_id, activity_id=launch["activity_id"],
                                  per_activity=launch["activity__helps_per_helper"], now=now)
            device_seen(device_id=device_id, member_id=helper_id)
            # From here to the commit the launch row is held: keep it to the cut's few statements.
            locked = BargainLaunch.objects.select_for_update().get(pk=launch["pk"])
            if locked.status != BS.ONGOING or locked.expires_at <= now:
                raise BargainFinished(detail={"launch_no": launch_no, "status": locked.status_now(now)})
            seq = locked.helpers_count + 1
            cut = bargain_cut(remaining_fen=locked.current_price_fen - locked.floor_price_fen,
                              helpers_left=locked.helpers_needed - locked.helpers_count)
            price_after = locked.current_price_fen - cut
            # The write is conditional on what was read: never below the floor, never a lost cut.
            changed = BargainLaunch.objects.filter(
                pk=locked.pk, status=BS.ONGOING, current_price_fen=locked.current_price_fen,
                helpers_count=locked.helpers_count, current_price_fen__gte=locked.floor_price_fen + cut,
            ).update(current_price_fen=F("current_price_fen") - cut, helpers_count=F("helpers_count") + 1)
            if changed != 1:
                raise BargainFinished(detail={"launch_no": launch_no, "status": locked.status})
            help_row = BargainHelp.objects.create(launch=locked, helper_id=helper_id, seq=seq, cut_fen=cut,
                                                  price_after_fen=price_after, device_id=device_id[:64],
                                                  helper_registered_at=registered_at)
            locked.current_price_fen, locked.helpers_count = price_after, seq
            if seq == locked.helpers_needed:
                buy_until = now + dt.timedelta(hours=settings.BARGAIN_BUY_HOURS_AFTER_FLOOR)
                BARGAIN_MACHINE.transition(pk=locked.pk, to=BS.SUCCEEDED, action=BargainAction.SUCCEEDED,
                                           actor=Actor.MEMBER, fields={"buy_until": buy_until}, data={"helpers": seq})
                locked.refresh_from_db()
            track("bargain_helped", member_id=helper_id, properties={"launch_no": launch_no, "cut_fen": cut})
    except IntegrityError as exc:
        # The same helper's other request got in first (unique launch + helper).
        raise BargainAlreadyHelped(detail={"launch_no": launch_no}) from exc
    return HelpResult(launch=locked, help=help_row)


def _take_help_allowances(*, helper_id: int, device_id: str, activity_id: int, per_activity: int,
                          now: dt.datetime) -> None:
    """The helper's daily helps, the device's daily helps, the helper's helps in this activity."""
    day = day_window(now)
    caps = [(f"help:member:{helper_id}", day, settings.BARGAIN_DAILY_HELP_LIMIT, "member_daily"),
            (f"help:activity:{activity_id}:member:{helper_id}", ALL_TIME, per_activity, "per_activity")]
    if device_id:
        caps.insert(1, (f"help:device:{device_id[:64]}", day, settings.BARGAIN_DEVICE_DAILY_HELP_LIMIT,
                        "device_daily"))
    for key, window, limit, name in caps:
        if not allowance_take(key=key, window=window, limit=limit):
            raise BargainHelpLimitReached(detail={"limit": name, "max": limit})


# --- orders -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BargainWant:
    """A launch an order buys, at the price checkout priced it at."""

    launch_id: int
    price_fen: int


def bargain_reserve(*, member_id: int, order_no: str, wants: list[BargainWant], now: dt.datetime) -> None:
    """Move each launch to ORDERED for the order and take one unit of its activity's stock.

    Runs in the caller's (placement) transaction. Each launch in id order: locked, then checked —
    the member's, still buyable (BargainNotBuyable), its price still the priced one (409
    bargain_price_changed: a friend cut it after the preview) — moved to ORDERED with the order
    number (audited); then each activity's stock by a conditional UPDATE (409 bargain_sold_out).
    Not idempotent by itself: the order's idempotency key makes placement idempotent.
    """
    require_transaction("bargain_reserve")
    activities: list[int] = []
    for want in sorted(wants, key=lambda w: w.launch_id):
        launch = BargainLaunch.objects.select_for_update().select_related("activity").filter(
            pk=want.launch_id, member_id=member_id).first()
        if launch is None:
            raise BargainLaunchNotFound(detail={"launch_id": want.launch_id})
        if not launch.buyable_now(now):
            raise BargainNotBuyable(detail={"launch_no": launch.launch_no, "status": launch.status_now(now)})
        if launch.current_price_fen != want.price_fen:
            raise BargainPriceChanged(detail={"launch_no": launch.launch_no,
                                              "current_price_fen": launch.current_price_fen})
        BARGAIN_MACHINE.transition(pk=launch.pk, to=BS.ORDERED, action=BargainAction.ORDERED, actor=Actor.MEMBER,
                                   fields={"order_no": order_no}, data={"order_no": order_no,
                                                                        "price_fen": launch.current_price_fen})
        activities.append(launch.activity_id)
    for activity_id in sorted(activities):
        if BargainActivity.objects.filter(pk=activity_id, stock_left__gte=1).update(
                stock_left=F("stock_left") - 1) != 1:
            raise BargainSoldOut(detail={"activity_id": activity_id})


def bargain_release(*, order_no: str, now: dt.datetime | None = None) -> int:
    """A cancelled unpaid order gives its launches back: each ORDERED launch of the order returns
    to SUCCEEDED (at the floor) or ONGOING — or EXPIRED when its time has run out — and its unit of
    activity stock comes back. Returns the launches released.

    Runs in the caller's (cancel) transaction. Exactly once: the transition from ORDERED is
    conditional under the launch's lock, so a second call finds nothing ORDERED. Locks launches in
    id order, then activities.
    """
    require_transaction("bargain_release")
    now = now or timezone.now()
    released: list[int] = []
    for launch in BargainLaunch.objects.filter(order_no=order_no, status=BS.ORDERED).order_by("pk"):
        at_floor = launch.helpers_count == launch.helpers_needed
        deadline = launch.buy_until if at_floor else launch.expires_at
        to = BS.EXPIRED if deadline is not None and deadline <= now else BS.SUCCEEDED if at_floor else BS.ONGOING
        _, changed = BARGAIN_MACHINE.transition(pk=launch.pk, to=to, action=BargainAction.RELEASED,
                                                allowed_from=[BS.ORDERED], data={"order_no": order_no})
        if changed:
            released.append(launch.activity_id)
    for activity_id in sorted(released):
        BargainActivity.objects.filter(pk=activity_id).update(stock_left=Least(F("stock_left") + 1, F("stock_total")))
    return len(released)


def bargain_confirm_paid(*, order_no: str) -> int:
    """The order was paid: its ORDERED launches become PURCHASED (audited). Returns how many moved.

    Runs in the caller's (payment) transaction; idempotent (a PURCHASED launch is left alone).
    """
    require_transaction("bargain_confirm_paid")
    moved = 0
    for pk in BargainLaunch.objects.filter(order_no=order_no, status=BS.ORDERED).order_by("pk").values_list(
            "pk", flat=True):
        _, changed = BARGAIN_MACHINE.transition(pk=pk, to=BS.PURCHASED, action=BargainAction.PURCHASED,
                                                actor=Actor.WECHAT, allowed_from=[BS.ORDERED])
        moved += changed
    return moved


def bargain_reclaim(*, order_no: str) -> int:
    """A late payment revives the cancelled order: its launches (released since) are taken again
    and marked PURCHASED, with their unit of stock. Raises BargainSoldOut (stock gone) or
    BargainNotBuyable (the launch was ordered again meanwhile) for the caller to refund instead.

    Runs in a savepoint of the caller's (payment) transaction: all or nothing. A launch already
    PURCHASED by this order is left alone, so a repeat is a no-op. Same lock order as reserve.
    """
    require_transaction("bargain_reclaim")
    with transaction.atomic():
        activities: list[int] = []
        for launch in BargainLaunch.objects.filter(order_no=order_no).order_by("pk"):
            if launch.status == BS.PURCHASED:
                continue
            if launch.status not in (BS.ONGOING, BS.SUCCEEDED, BS.EXPIRED):
                raise BargainNotBuyable(detail={"launch_no": launch.launch_no, "status": launch.status})
            BARGAIN_MACHINE.transition(pk=launch.pk, to=BS.ORDERED, action=BargainAction.RECLAIMED,
                                       actor=Actor.WECHAT, data={"order_no": order_no})
            BARGAIN_MACHINE.transition(pk=launch.pk, to=BS.PURCHASED, action=BargainAction.PURCHASED,
                                       actor=Actor.WECHAT)
            activities.append(launch.activity_id)
        for activity_id in sorted(activities):
            if BargainActivity.objects.filter(pk=activity_id, stock_left__gte=1).update(
                    stock_left=F("stock_left") - 1) != 1:
                raise BargainSoldOut(detail={"activity_id": activity_id})
        return len(activities)


# --- the console and the clock ---


def bargain_activity_save(*, activity: BargainActivity) -> BargainActivity:
    """Save an activity from the console. A new one starts with all its stock left; a change of
    stock_total moves stock_left by the same amount with a conditional UPDATE, refused
    (BargainStockBelowTaken, 409) when fewer units would be left than are already ordered or sold.
    Prices, helpers and hours apply to launches made from now on (a launch copies them).
    Runs in the caller's transaction if there is one (the console's change form), else its own;
    locks the activity row for the stock change.
    """
    with transaction.atomic():
        if activity.pk is None:
            activity.stock_left = activity.stock_total
            activity.save()
            return activity
        before = BargainActivity.objects.select_for_update().get(pk=activity.pk)
        delta = activity.stock_total - before.stock_total
        fields = [f.name for f in BargainActivity._meta.concrete_fields
                  if f.name not in ("id", "stock_left", "created_at")]
        activity.stock_left = before.stock_left
        activity.save(update_fields=fields)
        if delta and BargainActivity.objects.filter(pk=activity.pk, stock_left__gte=-delta).update(
                stock_left=F("stock_left") + delta) != 1:
            raise BargainStockBelowTaken(detail={"taken": before.stock_total - before.stock_left})
        activity.refresh_from_db()
        return activity


# --- the clock --------------------------------------------------------------------


def bargains_expire_due(*, now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Mark expired the ongoing launches past their deadline and the ones at the floor not bought
    in time. Returns how many moved. Claims rows with SKIP LOCKED in chunks, each its own
    transaction, so it never waits for a help or a checkout; safe to run twice."""
    now = now or timezone.now()
    moved = 0
    due = (BargainLaunch.objects.filter(status=BS.ONGOING, expires_at__lte=now)
           | BargainLaunch.objects.filter(status=BS.SUCCEEDED, buy_until__lte=now))
    while True:
        with transaction.atomic(durable=True):
            ids = list(due.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)[:batch_size])
            for pk in ids:
                _, changed = BARGAIN_MACHINE.transition(pk=pk, to=BS.EXPIRED, action=BargainAction.EXPIRED)
                moved += changed
        if len(ids) < batch_size:
            return moved


def bargain_close(*, launch_id: int, reason: str, operator: AbstractBaseUser | None = None) -> BargainLaunch:
    """运营关闭: stop an ongoing or at-the-floor launch (no more help, no purchase). Audited with the
    reason; a repeat is a no-op; an ordered or bought launch is refused (409)."""
    with transaction.atomic(durable=True):
        launch, _ = BARGAIN_MACHINE.transition(pk=launch_id, to=BS.CLOSED, action=BargainAction.CLOSED,
                                               actor=Actor.OPERATOR, operator=operator, note=reason)
    return launch
