"""Reads of 砍价 for the mini-program: running activities, a launch's page, the member's launches."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from campaigns.errors import BargainLaunchNotFound, BargainNotBuyable
from campaigns.models import BargainActivity, BargainHelp, BargainLaunch
from campaigns.models.bargain import BARGAIN_LIVE
from members.models import Member


@dataclass(frozen=True)
class BargainOffer:
    """What checkout needs to price a line bought through a launch."""

    launch_id: int
    launch_no: str
    sku_id: int
    price_fen: int


def bargain_offers(*, member_id: int, launch_ids: list[int], now: dt.datetime) -> dict[int, BargainOffer]:
    """The member's launches that may be bought now, by id, at their current price.

    Buyable: the member's own launch, at the floor (SUCCEEDED, before buy_until), or ONGOING
    before its deadline when the activity allows buying before the floor. Raises
    BargainLaunchNotFound for an unknown launch or another member's, BargainNotBuyable (with the
    status) for one that cannot be bought now. One query.
    """
    rows = {r.pk: r for r in BargainLaunch.objects.filter(pk__in=launch_ids, member_id=member_id)
            .select_related("activity")}
    missing = sorted(set(launch_ids) - set(rows))
    if missing:
        raise BargainLaunchNotFound(detail={"launch_ids": missing})
    offers = {}
    for launch_id in sorted(rows):
        launch = rows[launch_id]
        if not launch.buyable_now(now):
            raise BargainNotBuyable(detail={"launch_no": launch.launch_no, "status": launch.status_now(now)})
        offers[launch_id] = BargainOffer(launch_id=launch_id, launch_no=launch.launch_no,
                                         sku_id=launch.activity.sku_id, price_fen=launch.current_price_fen)
    return offers


@dataclass(frozen=True)
class ActivityView:
    id: int
    name: str
    sku_id: int
    product_id: int
    product_name: str
    spec_text: str
    image_url: str
    list_price_fen: int
    start_price_fen: int
    floor_price_fen: int
    helpers_needed: int
    hours_to_finish: int
    buy_before_floor: bool
    stock_left: int
    ends_at: dt.datetime
    my_launch_no: str | None


def bargain_activities_running(*, now: dt.datetime, member_id: int | None) -> list[ActivityView]:
    """The activities on now, soonest ending first, with the member's live launch of each (None
    when they have none, or for a guest). Two queries whatever the number of activities."""
    rows = list(BargainActivity.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
                .select_related("sku__product").order_by("ends_at", "pk")[:100])
    mine: dict[int, str] = {}
    if member_id is not None and rows:
        mine = dict(BargainLaunch.objects.filter(member_id=member_id, activity__in=rows, status__in=BARGAIN_LIVE)
                    .values_list("activity_id", "launch_no"))
    return [ActivityView(
        id=a.pk, name=a.name, sku_id=a.sku_id, product_id=a.sku.product_id, product_name=a.sku.product.name,
        spec_text=a.sku.spec_text, image_url=a.sku.product.main_image.url if a.sku.product.main_image else "",
        list_price_fen=a.sku.price_fen, start_price_fen=a.start_price_fen, floor_price_fen=a.floor_price_fen,
        helpers_needed=a.helpers_needed, hours_to_finish=a.hours_to_finish, buy_before_floor=a.buy_before_floor,
        stock_left=max(a.stock_left, 0), ends_at=a.ends_at, my_launch_no=mine.get(a.pk),
    ) for a in rows]


@dataclass(frozen=True)
class HelperView:
    seq: int
    nickname: str
    avatar_url: str
    cut_fen: int
    price_after_fen: int
    created_at: dt.datetime


@dataclass(frozen=True)
class LaunchView:
    id: int
    launch_no: str
    activity_id: int
    activity_name: str
    sku_id: int
    product_name: str
    start_price_fen: int
    floor_price_fen: int
    current_price_fen: int
    cut_total_fen: int
    helpers_needed: int
    helpers_count: int
    status: str
    expires_at: dt.datetime
    buy_until: dt.datetime | None
    buyable: bool
    is_mine: bool
    i_helped: bool
    order_no: str
    launcher_nickname: str
    helpers: list[HelperView]


def _launches() -> QuerySet[BargainLaunch]:
    return BargainLaunch.objects.select_related("activity__sku__product", "member")


def bargain_launch_page(*, launch_no: str, viewer_id: int, now: dt.datetime) -> LaunchView:
    """A launch's page (the share card opens it): prices, progress, countdown and every helper's
    cut in order. Anyone logged in may see it (friends help from it); the order number only shows
    to the launcher. BargainLaunchNotFound for an unknown number. Three queries."""
    launch = _launches().filter(launch_no=launch_no).first()
    if launch is None:
        raise BargainLaunchNotFound(detail={"launch_no": launch_no})
    helps = list(BargainHelp.objects.filter(launch=launch).select_related("helper").order_by("seq"))
    return _view(launch, helps, viewer_id=viewer_id, now=now)


def bargain_launches_for_member(*, member_id: int) -> QuerySet[BargainLaunch]:
    """The member's launches, newest first (paginate it; render with bargain_launch_views)."""
    return _launches().filter(member_id=member_id).order_by("-pk")


def bargain_launch_views(launches: list[BargainLaunch], *, viewer_id: int, now: dt.datetime) -> list[LaunchView]:
    """A page of launches as views, without their helpers (one query for none of them)."""
    return [_view(launch, [], viewer_id=viewer_id, now=now) for launch in launches]


def _view(launch: BargainLaunch, helps: list[BargainHelp], *, viewer_id: int, now: dt.datetime) -> LaunchView:
    status = launch.status_now(now)
    mine = launch.member_id == viewer_id
    buyable = mine and launch.buyable_now(now)
    i_helped = any(h.helper_id == viewer_id for h in helps) if helps else (
        not mine and BargainHelp.objects.filter(launch=launch, helper_id=viewer_id).exists())
    return LaunchView(
        id=launch.pk, launch_no=launch.launch_no, activity_id=launch.activity_id, activity_name=launch.activity.name,
        sku_id=launch.activity.sku_id, product_name=launch.activity.sku.product.name,
        start_price_fen=launch.start_price_fen, floor_price_fen=launch.floor_price_fen,
        current_price_fen=launch.current_price_fen, cut_total_fen=launch.start_price_fen - launch.current_price_fen,
        helpers_needed=launch.helpers_needed, helpers_count=launch.helpers_count, status=status,
        expires_at=launch.expires_at, buy_until=launch.buy_until, buyable=buyable, is_mine=mine, i_helped=i_helped,
        order_no=launch.order_no if mine else "", launcher_nickname=_display_name(launch.member),
        helpers=[HelperView(seq=h.seq, nickname=_display_name(h.helper), avatar_url=h.helper.avatar_url,
                            cut_fen=h.cut_fen, price_after_fen=h.price_after_fen, created_at=h.created_at)
                 for h in helps],
    )


def _display_name(member: Member) -> str:
    return member.nickname or "微信用户"
