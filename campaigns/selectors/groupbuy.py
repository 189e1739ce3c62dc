"""Group-buy (拼团) reads: the offers checkout prices with, and what the mini-program shows.

Product and SKU fields come through the item's foreign key to catalog.models.Sku. Every read is a
fixed number of queries whatever the number of activities, items, groups and members.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import F, Q

from campaigns.errors import GroupBuyActivityNotFound, GroupBuyItemNotFound, GroupBuyNotFound
from campaigns.models import GroupBuy, GroupBuyActivity, GroupBuyItem, GroupBuySeat, GroupBuyStatus, SeatStatus

# The activity page shows at most this many groups that need one or two more people.
NEARLY_FULL_SHOWN = 10
NEARLY_FULL_SEATS = 2


@dataclass(frozen=True)
class GroupBuyOffer:
    """An item of an activity running now, as checkout needs it."""

    item_id: int
    sku_id: int
    group_price_fen: int
    leader_price_fen: int | None
    per_member_limit: int


def _running(now: dt.datetime) -> Q:
    return Q(activity__is_active=True, activity__starts_at__lte=now, activity__ends_at__gt=now)


def groupbuy_offers(*, item_ids: list[int], now: dt.datetime) -> dict[int, GroupBuyOffer]:
    """item_id -> GroupBuyOffer for those of `item_ids` whose activity is enabled and running at
    `now`; the others are left out (checkout: group_buy_not_active). One query."""
    if not item_ids:
        return {}
    rows = GroupBuyItem.objects.filter(_running(now), pk__in=item_ids).values_list(
        "pk", "sku_id", "group_price_fen", "leader_price_fen", "activity__per_member_limit")
    return {row[0]: GroupBuyOffer(*row) for row in rows}


@dataclass(frozen=True)
class GroupBuyRef:
    """What opening or joining needs to place the order: the item, its SKU, the group joined."""

    item_id: int
    sku_id: int
    group_id: int | None = None


def groupbuy_lookup(*, item_id: int | None = None, group_no: str | None = None) -> GroupBuyRef:
    """The item to open a group of (GroupBuyItemNotFound), or the group to join by its number
    (GroupBuyNotFound). Whether it may be opened or joined now is the order placement's check."""
    if group_no is not None:
        row = GroupBuy.objects.filter(group_no=group_no).values_list("item_id", "item__sku_id", "pk").first()
        if row is None:
            raise GroupBuyNotFound(detail={"group_no": group_no})
        return GroupBuyRef(*row)
    sku_id = GroupBuyItem.objects.filter(pk=item_id or 0).values_list("sku_id", flat=True).first()
    if item_id is None or sku_id is None:
        raise GroupBuyItemNotFound(detail={"group_item_id": item_id})
    return GroupBuyRef(item_id=item_id, sku_id=sku_id)


@dataclass(frozen=True)
class GroupBuyItemView:
    id: int
    sku_id: int
    product_id: int
    product_name: str
    image_url: str | None
    spec_text: str
    list_price_fen: int
    group_price_fen: int
    leader_price_fen: int | None
    stock_left: int


@dataclass(frozen=True)
class MemberFace:
    nickname: str
    avatar_url: str
    role: str  # leader / member / simulated (a seat filled by simulated completion)


@dataclass(frozen=True)
class GroupCard:
    """A group as a list shows it: who leads it, how many are missing, until when."""

    id: int
    group_no: str
    item_id: int
    status: str
    status_label: str
    size: int
    seats_taken: int
    seats_left: int
    expires_at: dt.datetime
    leader: MemberFace


@dataclass(frozen=True)
class GroupBuyActivityView:
    id: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    group_size: int
    open_hours: int
    per_member_limit: int
    new_members_only: bool
    single_purchase: bool
    items: list[GroupBuyItemView]
    nearly_full: list[GroupCard]  # forming groups that need one or two more people now


@dataclass(frozen=True)
class GroupPage:
    """One group's page (the share card opens it): the item, the members' faces, the countdown."""

    card: GroupCard
    activity_id: int
    activity_name: str
    item: GroupBuyItemView
    members: list[MemberFace]
    my_role: str | None  # leader / member when the asking member holds a seat; else None
    joinable: bool  # forming, not expired, a seat left


_ITEM_FIELDS = ("pk", "activity_id", "sku_id", "sku__product_id", "sku__product__name", "sku__product__main_image",
                "sku__specs", "sku__price_fen", "group_price_fen", "leader_price_fen", "stock_left")


def _item_view(row: Mapping[str, Any]) -> GroupBuyItemView:
    image = row["sku__product__main_image"]
    return GroupBuyItemView(
        id=row["pk"], sku_id=row["sku_id"], product_id=row["sku__product_id"], product_name=row["sku__product__name"],
        image_url=default_storage.url(image) if image else None,
        spec_text=" ".join(str(v) for v in (row["sku__specs"] or {}).values()),
        list_price_fen=row["sku__price_fen"], group_price_fen=row["group_price_fen"],
        leader_price_fen=row["leader_price_fen"], stock_left=row["stock_left"])


def _face(nickname: str, avatar_url: str, role: str, member_id: int) -> MemberFace:
    return MemberFace(nickname=nickname or f"会员{member_id}", avatar_url=avatar_url, role=role)


def _card(group: GroupBuy) -> GroupCard:
    leader = group.leader
    return GroupCard(id=group.pk, group_no=group.group_no, item_id=group.item_id, status=group.status,
                     status_label=group.get_status_display(), size=group.size, seats_taken=group.seats_taken,
                     seats_left=group.seats_left, expires_at=group.expires_at,
                     leader=_face(leader.nickname, leader.avatar_url, "leader", leader.pk))


def groupbuy_activities_running(*, now: dt.datetime, activity_id: int | None = None) -> list[GroupBuyActivityView]:
    """Enabled activities running at `now` (or the one `activity_id`, GroupBuyActivityNotFound when
    it is not running), each with its items on sale and up to NEARLY_FULL_SHOWN forming groups
    that need one or two more people (fewest missing first, then the soonest to end). Three
    queries, whatever the number of activities and groups."""
    activities = GroupBuyActivity.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
    if activity_id is not None:
        activities = activities.filter(pk=activity_id)
    rows = list(activities.order_by("ends_at", "id"))
    if activity_id is not None and not rows:
        raise GroupBuyActivityNotFound(detail={"activity_id": activity_id})
    ids = [a.pk for a in rows]
    items: dict[int, list[GroupBuyItemView]] = defaultdict(list)
    for row in (GroupBuyItem.objects.filter(activity_id__in=ids, sku__is_active=True, sku__product__is_on_shelf=True)
                .order_by("sort", "id").values(*_ITEM_FIELDS)):
        items[row["activity_id"]].append(_item_view(row))
    groups: dict[int, list[GroupCard]] = defaultdict(list)
    nearly = (GroupBuy.objects.filter(activity_id__in=ids, status=GroupBuyStatus.FORMING, expires_at__gt=now)
              .annotate(left=F("size") - F("seats_taken") - F("simulated_seats"))
              .filter(left__gte=1, left__lte=NEARLY_FULL_SEATS).select_related("leader")
              .order_by("left", "expires_at", "id")[:NEARLY_FULL_SHOWN * max(len(ids), 1)])
    for group in nearly:
        if len(groups[group.activity_id]) < NEARLY_FULL_SHOWN:
            groups[group.activity_id].append(_card(group))
    return [GroupBuyActivityView(
        id=a.pk, name=a.name, starts_at=a.starts_at, ends_at=a.ends_at, group_size=a.group_size,
        open_hours=a.open_hours, per_member_limit=a.per_member_limit, new_members_only=a.new_members_only,
        single_purchase=a.single_purchase, items=items[a.pk], nearly_full=groups[a.pk]) for a in rows]


def groupbuy_page(*, group_no: str, now: dt.datetime, member_id: int | None) -> GroupPage:
    """A group's page by its number: GroupBuyNotFound for an unknown one. Members shown are the
    paid seats (a failed group: those refunded), leader first, then the seats simulated
    completion filled. Four queries."""
    group = GroupBuy.objects.select_related("leader", "activity").filter(group_no=group_no).first()
    if group is None:
        raise GroupBuyNotFound(detail={"group_no": group_no})
    shown = SeatStatus.REFUND if group.status == GroupBuyStatus.FAILED else SeatStatus.SEATED
    seats = list(GroupBuySeat.objects.filter(group=group, status=shown).order_by("paid_at", "id")
                 .values_list("member_id", "member__nickname", "member__avatar_url", "role"))
    seats.sort(key=lambda s: s[3] != "leader")
    members = [_face(nickname, avatar, role, member) for member, nickname, avatar, role in seats]
    members += [MemberFace(nickname="拼团好友", avatar_url="", role="simulated")] * group.simulated_seats
    mine = None
    if member_id is not None:
        mine = next((role for member, _, _, role in seats if member == member_id), None)
    item = GroupBuyItem.objects.filter(pk=group.item_id).values(*_ITEM_FIELDS).get()
    card = _card(group)
    joinable = group.status == GroupBuyStatus.FORMING and group.expires_at > now and card.seats_left > 0
    return GroupPage(card=card, activity_id=group.activity_id, activity_name=group.activity.name,
                     item=_item_view(item), members=members, my_role=mine, joinable=joinable)


@dataclass(frozen=True)
class MySeat:
    """A group the member opened or joined, from their side: the order and where it stands."""

    order_no: str
    role: str
    seat_status: str
    seat_status_label: str
    quantity: int
    paid_fen: int
    group: GroupCard
    item: GroupBuyItemView


def groupbuy_seats_for_member(*, member_id: int, group_no: str | None = None) -> list[MySeat]:
    """The member's paid group-buy orders with their groups, newest first (`group_no`: that group's
    only; GroupBuyNotFound when the member holds no seat in it). Two queries."""
    seats = (GroupBuySeat.objects.filter(member_id=member_id, group__isnull=False)
             .exclude(status=SeatStatus.PENDING).select_related("group__leader").order_by("-id"))
    if group_no is not None:
        seats = seats.filter(group__group_no=group_no)
    rows = list(seats.values_list("pk", flat=True)[:100])
    loaded = list(seats.filter(pk__in=rows))
    if group_no is not None and not loaded:
        raise GroupBuyNotFound(detail={"group_no": group_no})
    items = {row["pk"]: _item_view(row) for row in
             GroupBuyItem.objects.filter(pk__in={s.item_id for s in loaded}).values(*_ITEM_FIELDS)}
    out = []
    for seat in loaded:
        assert seat.group is not None
        out.append(MySeat(order_no=seat.order_no, role=seat.role, seat_status=seat.status,
                          seat_status_label=seat.get_status_display(), quantity=seat.quantity,
                          paid_fen=seat.paid_fen, group=_card(seat.group), item=items[seat.item_id]))
    return out


def groupbuy_shipping_hold(*, order_id: int) -> str:
    """Why a paid order may not ship yet because of its group ("" when it may): a group-buy order
    ships only once its group succeeded. One query."""
    seat = GroupBuySeat.objects.filter(order_id=order_id).values_list("status", "group__status").first()
    if seat is None:
        return ""
    status, group_status = seat
    if status == SeatStatus.SEATED and group_status == GroupBuyStatus.SUCCEEDED:
        return ""
    if status == SeatStatus.REFUND:
        return "拼团未成功，该订单将自动全额退款，不能发货"
    return "拼团尚未成功，成团后才能发货"
