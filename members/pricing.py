"""Member price (会员价): the tier discount and the paid-card discount, combined by the operators'
stacking policy, never below the margin floor.

`member_unit_price()` is a pure function (no database): the shop's member stage calls it once per
line with the unit price the line has reached (after activity prices) and the SKU's cost.
`member_pricing_context()` reads what it needs about the member once per checkout.

Rounding: the discounted unit price is the list price × the combined rate, rounded ONCE to the
fen half up (core.money.round_fen: ¥0.995 → ¥1.00); the rate of 折上折 is tier% × card%
exactly (95% × 90% = 85.5%), not a rounded percentage. The floor is cost × floor rounded UP to the
fen, so a floored price is never below cost × floor even by a fraction of a fen. A unit is never
priced above its list price: when the floor is above the list price (selling below cost already)
the member discount simply does not apply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, NamedTuple

from django.db.models import CharField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast, Coalesce, Greatest, JSONObject

from core.compiled import CompiledQuery
from core.money import round_fen
from members.models import Address, Member, MemberCard, MemberPriceSettings, StackingPolicy, Tier
from members.services.cards import member_card_active
from members.services.growth import member_tier

# Which discount priced a unit, for the checkout to show ("会员价（等级 9.5 折）"…).
APPLIED_TIER = "tier"
APPLIED_CARD = "card"
APPLIED_STACKED = "stacked"
APPLIED_FLOOR = "floor"

APPLIED_LABELS = {
    APPLIED_TIER: "会员等级折扣",
    APPLIED_CARD: "会员卡折扣",
    APPLIED_STACKED: "等级折扣与会员卡折扣叠加",
    APPLIED_FLOOR: "会员价（已按最低售价）",
}


def member_unit_price(*, list_price_fen: int, cost_fen: int, tier_percent: int, card_percent: int | None,
                      policy: str, floor: Decimal) -> tuple[int, str | None]:
    """The member price of one unit, and which discount made it: (price_fen, applied).

    tier_percent / card_percent: what is paid, 1–100 (95 = 9.5 折; card None or 100 = no card).
    policy: "stack" (折上折: tier × card) or "best" (取优: the lower of the two prices; a tie
    counts as the tier's). floor: the margin floor k — the price is never below cost × k.
    applied: "tier" / "card" / "stacked" / "floor", or None when the member pays the list price.

    Guarantees: min(list, ⌈cost × k⌉) <= price <= list; the 折上折 price <= the 取优 price.
    """
    if list_price_fen < 0 or cost_fen < 0:
        raise ValueError("prices must not be negative")
    card = 100 if card_percent is None else card_percent
    for percent in (tier_percent, card):
        if not 1 <= percent <= 100:
            raise ValueError(f"a discount percent must be 1–100, got {percent}")
    if floor < 0:
        raise ValueError("the floor must not be negative")
    if policy == StackingPolicy.STACK:
        rate = Decimal(tier_percent) * Decimal(card) / Decimal(10000)
        both = tier_percent < 100 and card < 100
        applied = APPLIED_STACKED if both else APPLIED_TIER if tier_percent < 100 else APPLIED_CARD
    elif policy == StackingPolicy.BEST:
        use_card = card < tier_percent
        rate = Decimal(card if use_card else tier_percent) / Decimal(100)
        applied = APPLIED_CARD if use_card else APPLIED_TIER
    else:
        raise ValueError(f"unknown stacking policy {policy!r}")
    discounted = round_fen(Decimal(list_price_fen) * rate)
    if discounted >= list_price_fen:
        return list_price_fen, None
    floor_fen = int((Decimal(cost_fen) * floor).to_integral_value(rounding=ROUND_CEILING))
    if discounted < floor_fen:
        if floor_fen >= list_price_fen:
            return list_price_fen, None
        return floor_fen, APPLIED_FLOOR
    return discounted, applied


class MemberPricingContext(NamedTuple):
    tier_percent: int  # 100 when the member's tier gives no discount (or no member)
    card_percent: int  # 100 when the member has no active card
    policy: str  # StackingPolicy value
    floor: Decimal
    points_multiplier: Decimal  # the active card's points multiplier, else 1


def member_price_settings_current() -> MemberPriceSettings:
    """The operators' stacking policy and floor (the one row; created with the defaults if missing)."""
    row, _ = MemberPriceSettings.objects.get_or_create(pk=1)
    return row


def member_pricing_context(*, member_id: int | None, at: dt.datetime) -> MemberPricingContext:
    """What the shop's member stage needs about a buyer at `at`: the tier's and the active card's
    discount percents, the stacking policy and floor, the card's points multiplier. A guest
    (member_id None) gets no discounts. Three small queries."""
    settings_row = member_price_settings_current()
    policy, floor = settings_row.policy, settings_row.floor
    if member_id is None:
        return MemberPricingContext(100, 100, policy, floor, Decimal(1))
    tier = member_tier(member_id=member_id)
    card = member_card_active(member_id=member_id, at=at)
    return MemberPricingContext(
        tier_percent=tier.discount_percent if tier else 100,
        card_percent=card.discount_percent if card else 100,
        policy=policy, floor=floor,
        points_multiplier=card.points_multiplier if card else Decimal(1),
    )


@dataclass(frozen=True)
class BuyerFacts:
    """Everything checkout needs to know about the buyer, read in one statement
    (member_checkout_facts): the member-price context, the tier's benefits, the points balance
    and the delivery address."""

    pricing: MemberPricingContext
    tier_name: str
    tier_level: int | None  # None: no tier configured
    tier_early_access: bool
    free_shipping_threshold_fen: int | None  # the tier's 包邮门槛
    points_balance: int
    address: Address | None  # the one asked for, else the default (else the newest); None: none


_TIER_JSON = JSONObject(name="name", level="level", discount_percent="discount_percent",
                        free_shipping_threshold_fen="free_shipping_threshold_fen", early_access="early_access")
_ADDRESS_FIELDS = ("id", "member_id", "receiver_name", "phone", "province", "city", "district", "detail",
                   "is_default")


def _checkout_facts_query(*, member_id: int, at: dt.datetime, address_id: int | None) -> QuerySet[Any, Any]:
    address = Address.objects.filter(member_id=OuterRef("pk"))
    address = address.filter(pk=address_id) if address_id is not None else address.order_by("-is_default", "-id")
    return (Member.objects.filter(pk=member_id).annotate(
        tier_json=Coalesce(
            Subquery(Tier.objects.filter(pk=OuterRef("tier_id")).values(j=_TIER_JSON)[:1]),
            Subquery(Tier.objects.filter(min_growth__lte=Greatest(OuterRef("growth"), 0))
                     .order_by("-min_growth").values(j=_TIER_JSON)[:1])),
        card_json=Subquery(MemberCard.objects.filter(Q(starts_at__lte=at) & Q(ends_at__gt=at), member_id=OuterRef("pk"))
                           .values(j=JSONObject(discount_percent="plan__discount_percent",
                                                points_multiplier=Cast("plan__points_multiplier", CharField())))[:1]),
        settings_json=Subquery(MemberPriceSettings.objects.filter(pk=1).values(
            j=JSONObject(policy="policy", floor=Cast("floor", CharField())))[:1]),
        address_json=Subquery(address.values(j=JSONObject(**{f: f for f in _ADDRESS_FIELDS}))[:1]),
    ).values_list("points_balance", "tier_json", "card_json", "settings_json", "address_json"))


# Compiled once per process: compiling its subqueries took ten times what the database takes.
_CHECKOUT_FACTS = CompiledQuery(_checkout_facts_query)


def member_checkout_facts(*, member_id: int, at: dt.datetime, address_id: int | None = None) -> BuyerFacts | None:
    """The buyer's facts for a checkout at `at`, or None when the member does not exist.

    The same values as member_pricing_context() (tier — the member's, or the one their growth
    gives —, the active card, the operators' stacking settings) plus the tier's benefits, the
    points balance and the address (`address_id` when it is the member's, else the default one),
    in ONE query: each is a correlated subquery of the member row, so a checkout pays one round
    trip for all of them whatever the member has. The settings row is created (one more query)
    only if it has never been saved.
    """
    found = _CHECKOUT_FACTS.rows(member_id=member_id, at=at, address_id=address_id)
    row = found[0] if found else None
    if row is None:
        return None
    balance, tier, card, stacking, address_row = row
    if stacking is None:
        current = member_price_settings_current()
        stacking = {"policy": current.policy, "floor": str(current.floor)}
    pricing = MemberPricingContext(
        tier_percent=tier["discount_percent"] if tier else 100,
        card_percent=card["discount_percent"] if card else 100,
        policy=stacking["policy"], floor=Decimal(stacking["floor"]),
        points_multiplier=Decimal(card["points_multiplier"]) if card else Decimal(1),
    )
    return BuyerFacts(pricing=pricing, tier_name=tier["name"] if tier else "",
                      tier_level=tier["level"] if tier else None,
                      tier_early_access=bool(tier and tier["early_access"]),
                      free_shipping_threshold_fen=tier["free_shipping_threshold_fen"] if tier else None,
                      points_balance=balance, address=_address(address_row))


def _address(row: dict[str, Any] | None) -> Address | None:
    return None if row is None else Address(**{f: row[f] for f in _ADDRESS_FIELDS})
