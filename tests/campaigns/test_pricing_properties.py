"""Property tests of the checkout pricing pipeline with its campaign stages and its member stages.

Random carts (flash lines among them, random costs), a random buyer (tier and card discounts,
折上折 or 取优, a margin floor, a points balance, a tier free-shipping threshold), random 满减 /
满折 ladders and random coupons of every kind, scope, threshold and cap, and a random number of
points up to what the quote allows, priced by shop.pricing.quote(). Whatever the input:
payable ≥ 0; every stage's line allocations sum exactly to what the stage shows; no discount
exceeds the subtotal of the lines it may apply to; the member price is members.pricing's per unit
on every non-flash line; 满减 gives the largest total a brute force finds; the coupon picked is
the best usable one; points never exceed the balance nor 50% of the goods still payable, and are
worth exactly what they take off. Then, with the database, the preview and the order placed from
it agree to the fen, member price and points included, and the order spent exactly its points.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from campaigns.models import Coupon, CouponKind, CouponStatus, FullReduction, Scope
from campaigns.pricing import CouponOffer, ReductionOffer, ReductionStep, ScopeRule
from campaigns.selectors.flash import FlashOffer
from members.models import StackingPolicy
from members.pricing import MemberPricingContext, member_unit_price
from members.pricing_points import points_checkout_limit
from shop.pricing import CartLine, MemberFacts, PricingContext, PricingRun, member_label, quote
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.factories import CategoryFactory, SkuFactory, default_freight
from tests.fixtures import make_shopper
from tests.shop.support_member_price import balance, give_card, give_points, ledger_sum, price_policy, put_in_tier

NOW = dt.datetime(2026, 6, 18, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
# A two-level catalogue: parents 1 and 2; children 11, 12 (of 1) and 21 (of 2).
CHILDREN = {11: 1, 12: 1, 21: 2}
CATEGORY_IDS = [1, 2, 11, 12, 21]
PRODUCT_IDS = list(range(1, 7))


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@st.composite
def carts(draw):
    n = draw(st.integers(min_value=1, max_value=5))
    sku_ids = draw(st.lists(st.integers(min_value=1, max_value=10**6), min_size=n, max_size=n, unique=True))
    lines, offers = [], {}
    for sku_id in sku_ids:
        category = draw(st.sampled_from(sorted(CHILDREN)))
        # Cheap lines too, so carts below the ¥99 free-freight threshold pay freight (运费券 apply).
        price = draw(st.one_of(st.integers(min_value=0, max_value=3_000), st.integers(min_value=0, max_value=50_000)))
        quantity = draw(st.integers(min_value=1, max_value=5))
        flash_item_id = None
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            flash_item_id = 10**7 + sku_id
            offers[flash_item_id] = FlashOffer(
                item_id=flash_item_id, session_id=1, sku_id=sku_id,
                flash_price_fen=draw(st.integers(min_value=0, max_value=price + 1000)),
                per_member_limit=5, unpaid_timeout_minutes=15, starts_at=NOW - DAY, ends_at=NOW + DAY)
        cost = draw(st.one_of(st.just(0), st.integers(min_value=0, max_value=price * 12 // 10 + 1)))
        lines.append(CartLine(
            sku_id=sku_id, product_id=draw(st.sampled_from(PRODUCT_IDS)), category_id=category,
            product_name=f"p{sku_id}", sku_code=f"s{sku_id}", spec_text="", image_url="", unit_price_fen=price,
            cost_fen=cost, quantity=quantity, freight_template_id=None, category_ids=(category, CHILDREN[category]),
            flash_item_id=flash_item_id))
    return lines, offers


scopes = st.builds(
    ScopeRule,
    scope=st.sampled_from([Scope.ALL, Scope.ALL, Scope.CATEGORIES, Scope.PRODUCTS]),
    category_ids=st.frozensets(st.sampled_from(CATEGORY_IDS), max_size=3),
    product_ids=st.frozensets(st.sampled_from(PRODUCT_IDS), max_size=4),
    excluded_product_ids=st.frozensets(st.sampled_from(PRODUCT_IDS), max_size=2),
)


@st.composite
def reductions(draw):
    offers = []
    for activity_id in range(1, draw(st.integers(min_value=0, max_value=3)) + 1):
        kind = draw(st.sampled_from([FullReduction.Kind.AMOUNT, FullReduction.Kind.QUANTITY]))
        if kind == FullReduction.Kind.AMOUNT:
            step = st.builds(ReductionStep, threshold_fen=st.integers(0, 80_000), discount_fen=st.integers(0, 30_000))
        else:
            step = st.builds(ReductionStep, threshold_count=st.integers(0, 8), pay_percent=st.integers(1, 99))
        offers.append(ReductionOffer(activity_id=activity_id, name=f"活动{activity_id}", kind=kind,
                                     scope=draw(scopes), steps=tuple(draw(st.lists(step, min_size=1, max_size=3)))))
    return offers


@st.composite
def coupons(draw):
    offers = []
    for coupon_id in range(1, draw(st.integers(min_value=0, max_value=6)) + 1):
        kind = draw(st.sampled_from(list(CouponKind)))
        starts = NOW + draw(st.sampled_from([-DAY, -DAY, -DAY, DAY]))
        ends = NOW + draw(st.sampled_from([DAY, 2 * DAY, 3 * DAY, -dt.timedelta(seconds=1)]))
        offers.append(CouponOffer(
            coupon_id=coupon_id, template_id=coupon_id, name=f"券{coupon_id}", kind=kind,
            threshold_fen=draw(st.one_of(st.integers(0, 5_000), st.integers(0, 60_000))),
            amount_fen=draw(st.integers(0, 20_000)),
            pay_percent=draw(st.integers(1, 99)) if kind == CouponKind.DISCOUNT else None,
            max_discount_fen=draw(st.one_of(st.none(), st.integers(0, 10_000))),
            valid_from=starts, valid_until=max(ends, starts + dt.timedelta(seconds=1)),
            stacks_with_activities=draw(st.booleans()), scope=draw(scopes)))
    return offers


@st.composite
def buyers(draw) -> MemberFacts:
    """A member: tier and card discounts (100 = none), the stacking policy and floor, a balance."""
    pricing = MemberPricingContext(
        tier_percent=draw(st.sampled_from([100, 100, 98, 95, 90, draw(st.integers(1, 100))])),
        card_percent=draw(st.sampled_from([100, 100, 95, 90, draw(st.integers(1, 100))])),
        policy=draw(st.sampled_from([StackingPolicy.STACK, StackingPolicy.BEST])),
        floor=draw(st.sampled_from([Decimal(0), Decimal("1.00"), Decimal("1.10"), Decimal("0.50")])),
        points_multiplier=Decimal(1))
    return MemberFacts(pricing=pricing, tier_name="黄金会员",
                       free_shipping_threshold_fen=draw(st.one_of(st.none(), st.integers(0, 60_000))),
                       points_balance=draw(st.one_of(st.just(0), st.integers(0, 5_000), st.integers(0, 10**6))))


def covers(scope: ScopeRule, line: CartLine) -> bool:
    if line.product_id in scope.excluded_product_ids:
        return False
    if scope.scope == Scope.CATEGORIES:
        return bool(scope.category_ids & set(line.category_ids))
    if scope.scope == Scope.PRODUCTS:
        return line.product_id in scope.product_ids
    return True


def ladder(offer: ReductionOffer, group: list[tuple[int, int]]) -> int:
    """The best rung for (payable, quantity) pairs, written out independently of campaigns.pricing."""
    payable, count = sum(p for p, _ in group), sum(q for _, q in group)
    best = 0
    for step in offer.steps:
        if offer.kind == FullReduction.Kind.AMOUNT and payable >= step.threshold_fen:
            best = max(best, min(step.discount_fen, payable))
        if offer.kind == FullReduction.Kind.QUANTITY and group and count >= step.threshold_count:
            assert step.pay_percent is not None  # a 满折 rung always says what to pay
            best = max(best, min(payable, half_up(Decimal(payable) * (100 - step.pay_percent) / 100)))
    return best if group else 0


def payable_before(pl, stage_order: list[str], stage: str) -> int:
    earlier = set(stage_order[:stage_order.index(stage)])
    return pl.goods_total_fen + sum(a.amount_fen for a in pl.adjustments if a.stage in earlier)


STAGES = ["activity", "member", "full_reduction", "coupon", "points"]


@pytest.fixture
def freight(db):
    return default_freight()  # ¥10 + ¥5 per extra piece, free from ¥99 of goods payable


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cart=carts(), activities=reductions(), held=coupons(), buyer=buyers(),
       points_share=st.sampled_from([0, 0, 1, 37, 50, 99, 100]))
def test_the_pipeline_closes_to_the_fen_and_never_gives_more_than_it_may(freight, cart, activities, held, buyer,
                                                                          points_share):
    lines, flash = cart

    def run() -> PricingRun:
        return PricingRun(now=NOW, flash_offers=flash, full_reductions=activities, coupons=held, member=buyer)

    # the quote without points says how many this cart may use; the shopper uses a share of them
    limit = quote(lines, PricingContext(member_id=1, province="浙江省"), run=run()).points
    points = limit.max_points * points_share // 100
    q = quote(lines, PricingContext(member_id=1, province="浙江省", points_to_use=points), run=run())
    event(f"points used: {'none' if not points else 'all allowed' if points == limit.max_points else 'some'}")

    for s in q.stages:
        event(f"stage {s.stage}")
    event(f"coupons selected: {sorted(v.coupon.kind for v in q.coupons.selected)}")

    # payable never negative; the order adds up
    assert all(pl.payable_fen >= 0 for pl in q.lines)
    assert q.payable_fen == q.goods_total_fen - q.discount_fen + q.freight_fen - q.freight_discount_fen >= 0
    assert 0 <= q.freight_discount_fen <= q.freight_fen

    # every stage line of the preview is exactly the sum of its line allocations; one per line per stage
    for pl in q.lines:
        assert len({a.stage for a in pl.adjustments}) == len(pl.adjustments)
        assert all(a.amount_fen < 0 for a in pl.adjustments)
    for summary in q.stages:
        if summary.stage in ("freight", "freight_coupon"):
            continue
        allocated = sum(a.amount_fen for pl in q.lines for a in pl.adjustments
                        if a.stage == summary.stage and a.label == summary.label)
        assert allocated == summary.amount_fen, summary
    goods_stages = [s for s in q.stages if s.stage not in ("freight", "freight_coupon")]
    assert -sum(s.amount_fen for s in goods_stages) == q.discount_fen
    assert [s.amount_fen for s in q.stages if s.stage == "freight"] == [q.freight_fen]
    assert -sum(s.amount_fen for s in q.stages if s.stage == "freight_coupon") == q.freight_discount_fen

    # 会员价: members.pricing's unit price on every line not bought at a flash price, labelled by
    # the discount that made it; none on flash lines
    p = buyer.pricing
    for pl in q.lines:
        member_adj = [a for a in pl.adjustments if a.stage == "member"]
        if pl.line.flash_item_id is not None:
            assert member_adj == []
            continue
        price, applied = member_unit_price(list_price_fen=pl.line.unit_price_fen, cost_fen=pl.line.cost_fen,
                                           tier_percent=p.tier_percent, card_percent=p.card_percent,
                                           policy=p.policy, floor=p.floor)
        expected = (price - pl.line.unit_price_fen) * pl.line.quantity
        if expected:
            assert applied is not None  # the price moved: some discount did it
            assert [(a.label, a.amount_fen) for a in member_adj] == [(member_label(applied, buyer), expected)]
        else:
            assert member_adj == []
        if member_adj:
            event(f"member price: {applied}")

    # 积分: never more than the balance nor half the goods still payable; worth exactly what the
    # stage takes off, allocated to lines; the limit the quote shows is points_checkout_limit's
    before_points = sum(payable_before(pl, STAGES, "points") for pl in q.lines)
    assert (q.points.max_points, q.points.max_value_fen) == points_checkout_limit(
        balance=buyer.points_balance, goods_payable_fen=before_points)
    assert q.points.balance == buyer.points_balance
    assert q.points.max_points <= buyer.points_balance and 2 * q.points.max_value_fen <= before_points
    assert (q.points.used, q.points.used_fen) == (points, points)  # 100 points = ¥1
    taken = -sum(a.amount_fen for pl in q.lines for a in pl.adjustments if a.stage == "points")
    assert taken == q.points.used_fen
    assert [s.amount_fen for s in q.stages if s.stage == "points"] == ([-taken] if taken else [])

    # tier free shipping: a tier threshold the goods reach makes the freight 0
    goods_payable = sum(pl.payable_fen for pl in q.lines)
    tier_free = buyer.free_shipping_threshold_fen is not None and goods_payable >= buyer.free_shipping_threshold_fen
    assert q.free_shipping_by_tier == tier_free
    if tier_free:
        assert q.freight_fen == 0

    # 秒杀: exactly the difference to the flash price, never a surcharge
    for pl in q.lines:
        offer = flash.get(pl.line.flash_item_id) if pl.line.flash_item_id else None
        expected = max(pl.line.unit_price_fen - offer.flash_price_fen, 0) * pl.line.quantity if offer else 0
        assert -sum(a.amount_fen for a in pl.adjustments if a.stage == "activity") == expected

    # 满减: each activity only on lines it covers that no flash price touched, its discount its best
    # rung over those lines (so never above their payable), and the total the largest possible
    by_id = {o.activity_id: o for o in activities}
    groups: dict[int, list] = {}
    for pl in q.lines:
        for a in pl.adjustments:
            if a.stage == "full_reduction":
                groups.setdefault(int(a.reference.split(":")[1]), []).append(pl)
    untouched = [pl for pl in q.lines if not any(a.stage == "full_reduction" for a in pl.adjustments)]
    for activity_id, members in groups.items():
        offer = by_id[activity_id]
        assert all(covers(offer.scope, pl.line) and pl.line.flash_item_id is None for pl in members)
        before = [(payable_before(pl, STAGES, "full_reduction"), pl.line.quantity) for pl in members]
        taken = -sum(a.amount_fen for pl in members for a in pl.adjustments if a.stage == "full_reduction")
        assert 0 < taken <= sum(p for p, _ in before)
        # A line may be in the activity and still get 0 fen of it (too small a share): such lines
        # carry no adjustment, so the rung is checked against the touched lines plus some of those.
        quiet = [(payable_before(pl, STAGES, "full_reduction"), pl.line.quantity) for pl in untouched
                 if covers(offer.scope, pl.line) and pl.line.flash_item_id is None]
        assert any(ladder(offer, before + list(extra)) == taken
                   for n in range(len(quiet) + 1) for extra in itertools.combinations(quiet, n))
    total = -sum(a.amount_fen for pl in q.lines for a in pl.adjustments if a.stage == "full_reduction")
    assert total == brute_force_best(q.lines, activities)

    # the goods coupon: only on eligible lines, within their subtotal, as its kind says, the best one
    goods = [v for v in q.coupons.verdicts if not v.coupon.is_freight]
    assert len(goods) == sum(not c.is_freight for c in held)
    chosen = [v for v in q.coupons.selected if not v.coupon.is_freight]
    coupon_parts = {id(pl): -sum(a.amount_fen for a in pl.adjustments if a.stage == "coupon") for pl in q.lines}
    if not chosen:
        assert not any(coupon_parts.values())
        assert all(not v.usable or v.discount_fen == 0 for v in goods)
    else:
        verdict = chosen[0]
        coupon = verdict.coupon
        assert verdict.discount_fen == max(v.discount_fen for v in goods if v.usable) > 0
        assert NOW >= coupon.valid_from and NOW < coupon.valid_until
        eligible = [pl for pl in q.lines if covers(coupon.scope, pl.line) and (
            coupon.stacks_with_activities or not any(a.stage in ("activity", "full_reduction") for a in pl.adjustments)
            and pl.line.flash_item_id is None)]
        base = sum(payable_before(pl, STAGES, "coupon") for pl in eligible)
        assert sum(coupon_parts.values()) == verdict.discount_fen <= base
        assert all(coupon_parts[id(pl)] == 0 for pl in q.lines if pl not in eligible)
        if coupon.kind != CouponKind.NO_THRESHOLD:
            assert base >= coupon.threshold_fen
        if coupon.kind == CouponKind.DISCOUNT:
            assert coupon.pay_percent is not None  # a 折扣券 always says what to pay
            off = half_up(Decimal(base) * (100 - coupon.pay_percent) / 100)
            cap = coupon.max_discount_fen if coupon.max_discount_fen is not None else off
            assert verdict.discount_fen == min(off, cap, base)
        else:
            assert verdict.discount_fen == min(coupon.amount_fen, base)
    for verdict in goods:
        if not verdict.usable:
            assert verdict.discount_fen == 0 and verdict.reason
            if verdict.reason_code == "coupon_threshold_not_met":
                assert "还差¥" in verdict.reason

    # the freight coupon: never more than the freight; all of it when its amount is 0
    freight_chosen = [v for v in q.coupons.selected if v.coupon.is_freight]
    if freight_chosen:
        v = freight_chosen[0]
        expected = q.freight_fen if v.coupon.amount_fen == 0 else min(v.coupon.amount_fen, q.freight_fen)
        assert q.freight_discount_fen == v.discount_fen == expected > 0
    else:
        assert q.freight_discount_fen == 0

    # choosing a usable goods coupon explicitly prices it exactly as the list showed
    for verdict in goods:
        if verdict.usable:
            again = quote(lines, PricingContext(member_id=1, province="浙江省", coupon_ids=(verdict.coupon.coupon_id,)),
                          run=run())
            assert -sum(s.amount_fen for s in again.stages if s.stage == "coupon") == verdict.discount_fen


def brute_force_best(priced, activities) -> int:
    """The largest total 满减 over every way to give each line to one covering activity or none."""
    options = [[None] + [o.activity_id for o in activities
                         if covers(o.scope, pl.line) and pl.line.flash_item_id is None] for pl in priced]
    best = 0
    for choice in itertools.product(*options):
        total = 0
        for offer in activities:
            group = [(payable_before(pl, STAGES, "full_reduction"), pl.line.quantity)
                     for pl, c in zip(priced, choice, strict=True) if c == offer.activity_id]
            total += ladder(offer, group)
        best = max(best, total)
    return best


# --- with the database: preview and the placed order agree to the fen ------------------------------


@pytest.fixture
def catalogue(db):
    default_freight()
    parent = CategoryFactory.create(name="母婴")
    return {"parent": parent, "children": [CategoryFactory.create(name=f"子类{i}", parent=parent) for i in range(2)]}


@pytest.mark.django_db
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_preview_and_the_placed_order_agree_to_the_fen(catalogue, data):
    # given a fresh shopper, a random cart of real SKUs, a random 满减 and random coupons
    FullReduction.objects.update(is_active=False)
    shopper = make_shopper()
    categories = [catalogue["parent"], *catalogue["children"]]
    skus = []
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        price = data.draw(st.integers(min_value=100, max_value=12_000))
        skus.append(SkuFactory.create(product__category=data.draw(st.sampled_from(catalogue["children"])), stock=50,
                                      price_fen=price, cost_fen=data.draw(st.integers(min_value=0, max_value=price))))
    # a random member: tier discount and free-shipping threshold, maybe a card, the policy, points
    put_in_tier(shopper.member, data.draw(st.integers(0, 3)),
                discount_percent=data.draw(st.sampled_from([100, 98, 95, 90, 77])),
                free_shipping_threshold_fen=data.draw(st.one_of(st.none(), st.integers(0, 30_000))))
    if data.draw(st.booleans()):
        give_card(shopper.member, discount_percent=data.draw(st.sampled_from([95, 90, 85])))
    price_policy(data.draw(st.sampled_from([StackingPolicy.STACK, StackingPolicy.BEST])),
                 floor=data.draw(st.sampled_from(["0", "1.00", "1.10"])))
    give_points(shopper.member, data.draw(st.one_of(st.just(0), st.integers(0, 3_000), st.integers(0, 100_000))))
    products = [s.product for s in skus]
    for _ in range(data.draw(st.integers(min_value=0, max_value=2))):
        kind = data.draw(st.sampled_from([FullReduction.Kind.AMOUNT, FullReduction.Kind.QUANTITY]))
        if kind == FullReduction.Kind.AMOUNT:
            steps = [(data.draw(st.integers(0, 40_000)), data.draw(st.integers(0, 8_000)))]
        else:
            steps = [(data.draw(st.integers(0, 4)), data.draw(st.integers(1, 99)))]
        full_reduction(kind=kind, steps=steps, **draw_scope(data, categories, products))
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        kind = data.draw(st.sampled_from(list(CouponKind)))
        t = template(kind=kind, threshold_fen=data.draw(st.integers(0, 15_000)),
                     amount_fen=data.draw(st.integers(0, 3_000)),
                     pay_percent=data.draw(st.integers(1, 99)) if kind == CouponKind.DISCOUNT else None,
                     max_discount_fen=data.draw(st.one_of(st.none(), st.integers(0, 3_000))),
                     stacks_with_activities=data.draw(st.booleans()), **draw_scope(data, categories, products))
        give(shopper.member, t)
    items = [{"sku_id": s.pk, "quantity": data.draw(st.integers(min_value=1, max_value=3))} for s in skus]

    # when the shopper previews, picks a share of the points it allows, previews again, then orders
    # with the preview's amount
    limit = shopper.client.post("/api/v1/checkout/preview", {"items": items}, format="json")
    assert limit.status_code == 200, limit.json()
    points = limit.json()["points"]["max_points"] * data.draw(st.sampled_from([0, 1, 50, 100])) // 100
    held = balance(shopper.member)
    preview = shopper.client.post("/api/v1/checkout/preview", {"items": items, "points": points}, format="json")
    assert preview.status_code == 200, preview.json()
    shown = preview.json()
    order = shopper.client.post("/api/v1/orders/", {"items": items, "points": points,
                                                    "expected_payable_fen": shown["payable_fen"]}, format="json")

    # then the order is exactly what the preview showed, line by line and stage by stage
    assert order.status_code == 201, order.json()
    placed = order.json()
    for name in ("goods_total_fen", "discount_fen", "freight_fen", "freight_discount_fen", "payable_fen"):
        assert placed[name] == shown[name], name
    assert placed["payable_fen"] >= 0
    assert (placed["points_used"], placed["points_fen"]) == (shown["points"]["used"], shown["points"]["used_fen"])
    assert shown["points"]["used"] == points
    assert balance(shopper.member) == held - points == ledger_sum(shopper.member)
    for name in ("member", "points"):
        by_stage = sum(s["amount_fen"] for s in shown["stages"] if s["stage"] == name)
        assert by_stage == sum(a["amount_fen"] for line in placed["lines"] for a in line["adjustments"]
                               if a["stage"] == name), name
    assert ([(line["sku_id"], line["payable_fen"], [(a["stage"], a["label"], a["amount_fen"])
                                                     for a in line["adjustments"]]) for line in placed["lines"]]
            == [(line["sku_id"], line["payable_fen"], [(a["stage"], a["label"], a["amount_fen"])
                                                       for a in line["adjustments"]]) for line in shown["lines"]])
    event(f"stages: {sorted({s['stage'] for s in shown['stages']})}")
    event(f"points: {'none' if not points else 'some'}")
    event(f"coupons used: {len(shown['coupons']['selected_ids'])}")
    chosen = {c["id"]: c["discount_fen"] for c in shown["coupons"]["usable"] if c["selected"]}
    assert set(chosen) == set(shown["coupons"]["selected_ids"])
    assert {c["id"]: c["discount_fen"] for c in placed["coupons"]} == chosen
    locked = Coupon.objects.filter(member=shopper.member, status=CouponStatus.LOCKED)
    assert {c.pk: c.discount_fen for c in locked} == chosen
    assert all(c.order is not None and c.order.order_no == placed["order_no"] for c in locked)


def draw_scope(data, categories, products) -> dict:
    scope = data.draw(st.sampled_from([Scope.ALL, Scope.CATEGORIES, Scope.PRODUCTS]))
    return {"scope": scope,
            "categories": data.draw(st.lists(st.sampled_from(categories), max_size=2, unique_by=lambda c: c.pk)),
            "products": data.draw(st.lists(st.sampled_from(products), max_size=2, unique_by=lambda p: p.pk)),
            "excluded": data.draw(st.lists(st.sampled_from(products), max_size=1, unique_by=lambda p: p.pk))}
