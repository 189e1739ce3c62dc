"""The points mall: an exchange is stock, the per-member limit, points and the coupon — all or nothing.

Must be true: the last unit exchanged by 20 members at once goes to one; too few points is a 409 and
nothing changes; other members' exchanges are never visible; bad input is a 4xx.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.errors import PointsMallLimitReached, PointsMallNotAvailable, PointsMallSoldOut
from campaigns.models import (
    Coupon,
    CouponSource,
    PointsExchange,
    PointsMallItem,
    PointsMallItemKind,
    PointsMallQuota,
)
from campaigns.services.points_mall import points_exchange_ship, points_mall_exchange
from core.errors import DomainError
from members.errors import PointsInsufficient
from members.models import Member, PointsEntry, PointsKind
from members.services.points import points_award, points_reconcile
from tests.concurrency import run_concurrently
from tests.factories import AddressFactory, CouponTemplateFactory, MemberFactory


def coupon_item(*, stock: int = 10, price: int = 500, limit: int | None = 1, **fields) -> PointsMallItem:
    template = CouponTemplateFactory.create(name="积分兑换 满100减10", show_in_center=False, per_member_limit=99)
    return PointsMallItem.objects.create(name="满100减10券", kind=PointsMallItemKind.COUPON, coupon_template=template,
                                         points_price=price, stock_total=stock, stock_left=stock,
                                         per_member_limit=limit, **fields)


def gift_item(*, stock: int = 5, price: int = 2000) -> PointsMallItem:
    return PointsMallItem.objects.create(name="定制帆布袋", kind=PointsMallItemKind.GIFT, points_price=price,
                                         stock_total=stock, stock_left=stock, per_member_limit=None)


def rich(points: int = 1000, **fields) -> Member:
    member = MemberFactory.create(**fields)
    points_award(member_id=member.pk, points=points, kind=PointsKind.PURCHASE, reference="SEED")
    return member


def balance(member: Member) -> int:
    return Member.objects.get(pk=member.pk).points_balance


def stock(item: PointsMallItem) -> int:
    return PointsMallItem.objects.get(pk=item.pk).stock_left


def nothing_changed(member: Member, item: PointsMallItem, *, points: int, stock_left: int) -> None:
    assert balance(member) == points
    assert stock(item) == stock_left
    assert not PointsExchange.objects.filter(member=member).exists()
    assert not Coupon.objects.filter(member=member).exists()
    assert not PointsEntry.objects.filter(member=member, kind=PointsKind.EXCHANGE).exists()
    assert PointsMallQuota.objects.filter(member=member, exchanged__gt=0).count() == 0


# --- service -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_coupon_exchange_spends_points_takes_stock_and_issues_the_coupon():
    member, item = rich(1000), coupon_item(stock=10, price=500)

    exchange, replayed = points_mall_exchange(member=member, item_id=item.pk)

    assert replayed is False
    assert (exchange.status, exchange.points, exchange.item_name) == ("completed", 500, "满100减10券")
    entry = PointsEntry.objects.get(member=member, kind=PointsKind.EXCHANGE)
    assert (entry.delta, entry.reference, exchange.points_entry_id) == (-500, f"mall:{exchange.pk}", entry.pk)
    coupon = Coupon.objects.get(member=member)
    assert (coupon.source, coupon.issue_key, exchange.coupon_id) == (CouponSource.POINTS, f"points_mall:{exchange.pk}",
                                                                     coupon.pk)
    assert (balance(member), stock(item)) == (500, 9)
    assert PointsMallQuota.objects.get(member=member, item=item).exchanged == 1


@pytest.mark.django_db
def test_too_few_points_is_409_and_nothing_changes():
    member, item = rich(499), coupon_item(stock=3, price=500)

    with pytest.raises(PointsInsufficient) as refused:
        points_mall_exchange(member=member, item_id=item.pk)

    assert (refused.value.status, refused.value.code) == (409, "points_insufficient")
    nothing_changed(member, item, points=499, stock_left=3)


@pytest.mark.django_db
def test_the_per_member_limit_holds_and_a_refusal_changes_nothing():
    member, item = rich(5000), coupon_item(stock=10, price=100, limit=2)

    points_mall_exchange(member=member, item_id=item.pk)
    points_mall_exchange(member=member, item_id=item.pk)
    with pytest.raises(PointsMallLimitReached) as refused:
        points_mall_exchange(member=member, item_id=item.pk)

    assert refused.value.code == "points_mall_limit_reached"
    assert (balance(member), stock(item), PointsExchange.objects.filter(member=member).count()) == (4800, 8, 2)


@pytest.mark.django_db
def test_a_coupon_the_template_refuses_rolls_the_points_back():
    member, item = rich(1000), coupon_item(stock=10, price=100, limit=None)
    assert item.coupon_template is not None
    item.coupon_template.per_member_limit = 1
    item.coupon_template.save()
    points_mall_exchange(member=member, item_id=item.pk)

    with pytest.raises(DomainError) as refused:
        points_mall_exchange(member=member, item_id=item.pk)

    assert refused.value.code == "coupon_limit_reached"
    assert (balance(member), stock(item), Coupon.objects.filter(member=member).count()) == (900, 9, 1)
    assert PointsMallQuota.objects.get(member=member, item=item).exchanged == 1


@pytest.mark.django_db
def test_items_off_the_shelf_or_outside_their_window_are_refused():
    member = rich(5000)
    now = timezone.now()
    off = coupon_item(is_active=False)
    early = coupon_item(starts_at=now + dt.timedelta(hours=1))
    late = coupon_item(ends_at=now - dt.timedelta(seconds=1))
    empty = coupon_item(stock=0)

    for item, reason in [(off, "inactive"), (early, "not_started"), (late, "ended")]:
        with pytest.raises(PointsMallNotAvailable) as refused:
            points_mall_exchange(member=member, item_id=item.pk)
        assert refused.value.detail == {"reason": reason}
    with pytest.raises(PointsMallSoldOut):
        points_mall_exchange(member=member, item_id=empty.pk)

    assert balance(member) == 5000 and not PointsExchange.objects.exists()


@pytest.mark.django_db
def test_a_gift_goes_to_the_default_address_or_needs_one():
    member, homeless, item = rich(5000), rich(5000), gift_item(stock=2, price=2000)
    AddressFactory.create(member=member, receiver_name="李四", phone="13900001111", province="广东省", city="深圳市",
                          district="南山区", detail="科技园 1 号")

    exchange, _ = points_mall_exchange(member=member, item_id=item.pk)
    with pytest.raises(DomainError) as refused:
        points_mall_exchange(member=homeless, item_id=item.pk)

    assert (exchange.status, exchange.receiver_name, exchange.address) == (
        "awaiting_shipment", "李四", "广东省深圳市南山区科技园 1 号")
    assert (refused.value.status, refused.value.code) == (400, "address_required")
    nothing_changed(homeless, item, points=5000, stock_left=1)

    shipped = points_exchange_ship(exchange_id=exchange.pk, tracking_no="SF123")
    again = points_exchange_ship(exchange_id=exchange.pk, tracking_no="SF123")
    assert (shipped.status, again.tracking_no) == ("shipped", "SF123")


@pytest.mark.django_db
def test_the_same_idempotency_key_replays_and_another_item_with_it_is_409():
    member, item, other = rich(5000), coupon_item(price=100, limit=None), coupon_item(price=100)

    first, _ = points_mall_exchange(member=member, item_id=item.pk, idempotency_key="tap-1")
    again, replayed = points_mall_exchange(member=member, item_id=item.pk, idempotency_key="tap-1")
    with pytest.raises(DomainError) as refused:
        points_mall_exchange(member=member, item_id=other.pk, idempotency_key="tap-1")

    assert (again.pk, replayed) == (first.pk, True)
    assert refused.value.code == "idempotency_key_reused"
    assert balance(member) == 4900


@pytest.mark.django_db(transaction=True)
def test_the_last_unit_exchanged_by_twenty_members_at_once_goes_to_one():
    item = coupon_item(stock=1, price=300)
    members = [rich(1000) for _ in range(20)]

    results = run_concurrently(lambda i: points_mall_exchange(member=members[i], item_id=item.pk), 20)

    won = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1, results
    assert all(isinstance(r, PointsMallSoldOut) for r in results if not isinstance(r, tuple))
    assert stock(item) == 0
    assert PointsExchange.objects.count() == Coupon.objects.count() == 1
    assert sorted(balance(m) for m in members) == [700] + [1000] * 19
    assert points_reconcile() == []


@pytest.mark.django_db(transaction=True)
def test_a_double_tap_with_one_key_exchanges_once():
    item = coupon_item(stock=10, price=300, limit=None)
    member = rich(1000)

    results = run_concurrently(
        lambda i: points_mall_exchange(member=member, item_id=item.pk, idempotency_key="double-tap"), 4)

    assert all(isinstance(r, tuple) for r in results), results
    assert len({r[0].pk for r in results}) == 1
    assert sorted(r[1] for r in results) == [False, True, True, True]
    assert (balance(member), stock(item)) == (700, 9)


# --- API -----------------------------------------------------------------------------------------------


def test_the_offer_lists_items_with_my_state(shopper, api_client):
    award = points_award(member_id=shopper.member.pk, points=600, kind=PointsKind.PURCHASE, reference="SEED")
    assert award is not None
    cheap, dear = coupon_item(price=500), gift_item(price=2000)
    coupon_item(is_active=False)

    mine = shopper.client.get("/api/v1/points-mall/items").json()
    anonymous = api_client.get("/api/v1/points-mall/items").json()

    assert [(r["id"], r["can_exchange"], r["my_exchanged"]) for r in mine["results"]] == [
        (cheap.pk, True, 0), (dear.pk, False, 0)]
    assert mine["results"][0]["coupon"]["benefit_text"] and mine["results"][1]["coupon"] is None
    assert [(r["id"], r["can_exchange"]) for r in anonymous["results"]] == [(cheap.pk, None), (dear.pk, None)]


def test_exchange_through_the_api_replays_with_the_same_key(shopper):
    points_award(member_id=shopper.member.pk, points=600, kind=PointsKind.PURCHASE, reference="SEED")
    item = coupon_item(price=500)
    url = f"/api/v1/points-mall/items/{item.pk}/exchange"

    first = shopper.client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = shopper.client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    broke = shopper.client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert first.status_code == 201, first.content
    assert (again.status_code, again.headers["Idempotent-Replayed"], again.json()["id"]) == (
        200, "true", first.json()["id"])
    assert first.json()["status_label"] == "已完成"
    assert (broke.status_code, broke.json()["code"]) == (409, "points_mall_limit_reached")
    assert balance(shopper.member) == 100


def test_insufficient_points_through_the_api_is_409_in_chinese(shopper):
    item = coupon_item(price=500)

    response = shopper.client.post(f"/api/v1/points-mall/items/{item.pk}/exchange", {}, format="json")

    assert response.status_code == 409
    assert response.json() == {"code": "points_insufficient", "message": "积分不足",
                               "detail": {"required": 500, "balance": 0}}
    nothing_changed(shopper.member, item, points=0, stock_left=10)


def test_bad_input_is_4xx_and_changes_nothing(shopper, other_shopper, api_client):
    points_award(member_id=shopper.member.pk, points=5000, kind=PointsKind.PURCHASE, reference="SEED")
    gift = gift_item(price=100)
    theirs = other_shopper.member.addresses.get()
    url = f"/api/v1/points-mall/items/{gift.pk}/exchange"

    cases = [
        (shopper.client.post(url, {"address_id": "abc"}, format="json"), 400, "invalid_input"),
        (shopper.client.post(url, {"address_id": theirs.pk}, format="json"), 404, "address_not_found"),
        (shopper.client.post("/api/v1/points-mall/items/987654321/exchange", {}, format="json"), 404,
         "points_mall_item_not_found"),
        (shopper.client.post("/api/v1/points-mall/items/99999999999999999999/exchange", {}, format="json"), 404,
         "points_mall_item_not_found"),
        (shopper.client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="键"), 400, "invalid_idempotency_key"),
        (api_client.post(url, {}, format="json"), 401, "not_authenticated"),
    ]

    assert [(r.status_code, r.json()["code"]) for r, _, _ in cases] == [(s, c) for _, s, c in cases]
    nothing_changed(shopper.member, gift, points=5000, stock_left=5)


def test_my_exchanges_are_mine_only_and_cost_a_fixed_number_of_queries(shopper, other_shopper):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    points_award(member_id=shopper.member.pk, points=100000, kind=PointsKind.PURCHASE, reference="SEED")
    points_award(member_id=other_shopper.member.pk, points=1000, kind=PointsKind.PURCHASE, reference="SEED")
    item, gift = coupon_item(price=100, limit=None), gift_item(price=100, stock=50)
    for _ in range(6):
        points_mall_exchange(member=shopper.member, item_id=item.pk)
        points_mall_exchange(member=shopper.member, item_id=gift.pk)
    secret, _ = points_mall_exchange(member=other_shopper.member, item_id=gift.pk)

    def fetch(path: str) -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as ctx:
            response = shopper.client.get(path)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()

    small, _ = fetch("/api/v1/points-mall/exchanges?page_size=2")
    large, body = fetch("/api/v1/points-mall/exchanges?page_size=50")

    assert body["count"] == 12
    assert secret.pk not in {r["id"] for r in body["results"]}
    assert small == large <= 3  # token + count + page
    offer_small, _ = fetch("/api/v1/points-mall/items?page_size=1")
    offer_large, _ = fetch("/api/v1/points-mall/items?page_size=50")
    assert offer_small == offer_large <= 4  # token + count + page + my counts


# --- console -------------------------------------------------------------------------------------------


def _ops():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-password-1")
    client = Client()
    client.force_login(user)
    return client


def _item_form(**overrides) -> dict:
    form = {"name": "定制帆布袋", "kind": "gift", "coupon_template": "", "points_price": "800", "stock_total": "10",
            "per_member_limit": "1", "starts_at_0": "", "starts_at_1": "", "ends_at_0": "", "ends_at_1": "",
            "is_active": "on", "sort": "0", "image_url": "", "description": ""}
    form.update(overrides)
    return form


def test_console_creates_items_and_moves_stock_never_below_what_was_exchanged(db):
    ops = _ops()
    template = CouponTemplateFactory.create(name="积分券")

    created = ops.post("/admin/campaigns/pointsmallitem/add/", _item_form(), follow=True)
    wrong = ops.post("/admin/campaigns/pointsmallitem/add/", _item_form(kind="coupon"))
    gift_with_coupon = ops.post("/admin/campaigns/pointsmallitem/add/", _item_form(coupon_template=template.pk))

    assert created.status_code == 200
    item = PointsMallItem.objects.get()
    assert (item.stock_total, item.stock_left, item.points_price) == (10, 10, 800)
    assert "优惠券商品须选择兑换的优惠券" in wrong.content.decode()
    assert "实物礼品不能选择优惠券" in gift_with_coupon.content.decode()
    assert PointsMallItem.objects.count() == 1

    member = rich(5000)
    AddressFactory.create(member=member)
    for _ in range(1):
        points_mall_exchange(member=member, item_id=item.pk)
    PointsMallItem.objects.filter(pk=item.pk).update(per_member_limit=None)
    for _ in range(2):
        points_mall_exchange(member=member, item_id=item.pk)
    too_low = ops.post(f"/admin/campaigns/pointsmallitem/{item.pk}/change/", _item_form(stock_total="2"))
    raised = ops.post(f"/admin/campaigns/pointsmallitem/{item.pk}/change/", _item_form(stock_total="20"),
                      follow=True)

    assert "总库存不能少于已兑换的 3 件" in too_low.content.decode()
    assert raised.status_code == 200
    item.refresh_from_db()
    assert (item.stock_total, item.stock_left) == (20, 17)
    listing = ops.get("/admin/campaigns/pointsmallitem/").content.decode()
    assert "兑换中" in listing and "17 / 20" in listing


def test_console_ships_a_gift_exchange(db):
    ops = _ops()
    member = rich(5000)
    AddressFactory.create(member=member, receiver_name="李四")
    exchange, _ = points_mall_exchange(member=member, item_id=gift_item(price=100).pk)

    page = ops.get(f"/admin/campaigns/pointsexchange/{exchange.pk}/change/").content.decode()
    empty = ops.post(f"/admin/campaigns/pointsexchange/{exchange.pk}/ship/", {"tracking_no": ""})
    done = ops.post(f"/admin/campaigns/pointsexchange/{exchange.pk}/ship/", {"tracking_no": "SF100200300"},
                    follow=True)

    assert "待发货" in page and 'class="mall-tool-primary">发货</a>' in page and "李四" in page
    assert empty.status_code == 200 and list(empty.context["form"].errors) == ["tracking_no"]
    assert f"兑换记录 #{exchange.pk} 已发货" in [str(m) for m in done.context["messages"]]
    exchange.refresh_from_db()
    assert (exchange.status, exchange.tracking_no) == ("shipped", "SF100200300")
    assert 'class="mall-tool-primary">发货</a>' not in ops.get(
        f"/admin/campaigns/pointsexchange/{exchange.pk}/change/").content.decode()
