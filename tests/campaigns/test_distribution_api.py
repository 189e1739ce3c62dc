"""分销 over HTTP: apply, the centre, bind through a share's scene, team (masked), commissions (mine
only), the poster, 分享赚, withdrawals. Bad input gets a clear 4xx and changes nothing; list
endpoints keep their query count whatever the page size."""

from __future__ import annotations

import io

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from PIL import Image

from campaigns.models import Binding, Commission, Distributor, DistributorApplication, Withdrawal
from campaigns.models.commissions import EntryReason
from campaigns.selectors.distribution import share_scene
from campaigns.services.commissions import Moves, ledger_move
from tests.builders import buyer, paid_order
from tests.campaigns.support_distribution import bind, distributor, money, rules
from tests.factories import SkuFactory, default_freight
from tests.fixtures import Shopper, make_shopper

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def as_distributor(**member_fields) -> tuple[Shopper, Distributor]:
    shopper = make_shopper(**member_fields)
    return shopper, distributor(shopper.member)


def with_available(d: Distributor, fen: int) -> None:
    with transaction.atomic():
        ledger_move(distributor_id=d.pk, reason=EntryReason.SETTLED, reference=f"seed:{fen}",
                    moves=Moves(available_fen=fen))


def test_apply_then_the_centre_shows_the_application_waiting(shopper):
    response = shopper.client.post("/api/v1/distribution/apply",
                                   {"real_name": "李分销", "phone": "13900139000", "reason": "宝妈群主"}, format="json")
    again = shopper.client.post("/api/v1/distribution/apply", {"real_name": "李分销", "phone": "13900139000"},
                                format="json")
    me = shopper.client.get("/api/v1/distribution/me").json()

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["status_label"]) == ("applying", "待审核")
    assert (again.status_code, again.json()["code"]) == (409, "distributor_application_pending")
    assert (me["status"], me["scene"], me["money"]["available_fen"]) == ("applying", None, 0)


@pytest.mark.parametrize(("body", "field"), [
    ({"real_name": "李分销", "phone": "12345"}, "phone"),
    ({"real_name": "李", "phone": "13900139000"}, "real_name"),
])
def test_bad_answers_are_a_400_naming_the_field_and_store_nothing(shopper, body, field):
    response = shopper.client.post("/api/v1/distribution/apply", body, format="json")

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["detail"]) == ("distributor_application_invalid",
                                                                   {"field": field})
    assert not DistributorApplication.objects.exists()


def test_a_member_who_never_applied_sees_status_none(shopper):
    me = shopper.client.get("/api/v1/distribution/me").json()

    assert (me["status"], me["mode"], me["withdraw_min_fen"]) == ("none", "appointed", 100)


def test_a_share_scene_binds_the_arriving_member_and_bad_scenes_are_refused():
    sharer, d = as_distributor()
    newcomer = make_shopper()

    bound = newcomer.client.post("/api/v1/distribution/bind", {"scene": share_scene(d.pk), "share_type": "poster"},
                                 format="json")
    junk = newcomer.client.post("/api/v1/distribution/bind", {"scene": "coupon=5"}, format="json")
    unknown = newcomer.client.post("/api/v1/distribution/bind", {"scene": "d=999999"}, format="json")
    own = sharer.client.post("/api/v1/distribution/bind", {"scene": share_scene(d.pk)}, format="json")

    assert (bound.status_code, bound.json()["distributor_id"]) == (201, d.pk)
    assert (junk.status_code, junk.json()["code"]) == (400, "share_scene_invalid")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "distributor_not_found")
    assert (own.status_code, own.json()["code"]) == (409, "binding_self")
    assert list(Binding.objects.values_list("member_id", "source")) == [(newcomer.member.pk, "poster")]


def test_the_team_shows_masked_members_with_their_orders_by_level():
    default_freight()
    me, d = as_distributor()
    friend = buyer(nickname="王小明", phone="13912341111")
    bind(friend, d)
    friend_d = distributor(friend, name="王小明")
    their_friend = buyer(nickname="赵六")
    bind(their_friend, friend_d)
    paid_order(member=friend, lines=[(SkuFactory.create(stock=5), 1)])
    paid_order(member=their_friend, lines=[(SkuFactory.create(stock=5), 1)])

    level1 = me.client.get("/api/v1/distribution/team").json()["results"]
    level2 = me.client.get("/api/v1/distribution/team?level=2").json()["results"]
    centre = me.client.get("/api/v1/distribution/me").json()

    assert [(m["nickname"], m["phone"], m["orders"]) for m in level1] == [("王**", "139****1111", 1)]
    assert [(m["nickname"], m["orders"]) for m in level2] == [("赵**", 1)]
    assert (centre["team_level1"], centre["team_level2"]) == (1, 1)
    assert (centre["money"]["pending_fen"], centre["earned_total_fen"]) == (990 + 495, 990 + 495)


def test_commission_records_are_mine_only():
    default_freight()
    me, d = as_distributor()
    other, other_d = as_distributor()
    shopper = buyer()
    bind(shopper, other_d)
    order = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=10000, stock=5), 1)])
    theirs = Commission.objects.get(order_ref=order.order_no)

    mine = me.client.get("/api/v1/distribution/commissions").json()
    peek = me.client.get(f"/api/v1/distribution/commissions/{theirs.pk}")
    own = other.client.get(f"/api/v1/distribution/commissions/{theirs.pk}").json()
    stranger = make_shopper().client.get("/api/v1/distribution/commissions")

    assert mine["results"] == []
    assert (peek.status_code, peek.json()["code"]) == (404, "commission_not_found")
    assert (own["order_ref"], own["amount_fen"], own["status_label"]) == (order.order_no, 1000, "待收货")
    assert (stranger.status_code, stranger.json()["code"]) == (403, "not_a_distributor")


def test_the_poster_is_a_png_whose_code_carries_the_distributor(media, sandbox):
    me, d = as_distributor(nickname="小鱼")

    response = me.client.get("/api/v1/distribution/poster.png")
    again = me.client.get("/api/v1/distribution/poster.png")

    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.size) == ("PNG", (750, 1200))
    assert sandbox.scan_wxacode(response.content) == {"scene": f"d={d.pk}", "page": "pages/index/index"}
    assert again.status_code == 200
    assert len(sandbox.wxacodes()) == 1  # the code is made once and stored


def test_share_to_earn_shows_the_level_one_commission_at_the_lowest_price():
    me, d = as_distributor()
    sku = SkuFactory.create(price_fen=12345, stock=5)

    body = me.client.get(f"/api/v1/distribution/products/{sku.product_id}/share").json()
    gone = me.client.get("/api/v1/distribution/products/999999/share")

    assert (body["earn_fen"], body["percent"], body["scene"]) == (1235, "10.00", f"d={d.pk}")
    assert body["path"] == f"pages/product/detail?id={sku.product_id}&d={d.pk}"
    assert gone.status_code == 404


def test_withdraw_over_http_with_clear_refusals_that_change_nothing():
    me, d = as_distributor()
    with_available(d, 5000)
    url = "/api/v1/distribution/withdrawals"

    below = me.client.post(url, {"amount_fen": 99}, format="json")
    over = me.client.post(url, {"amount_fen": 5001}, format="json")
    junk = me.client.post(url, {"amount_fen": "lots"}, format="json")
    assert (below.status_code, below.json()["code"], below.json()["detail"]) == (
        400, "withdrawal_amount_invalid", {"min_fen": 100})
    assert (over.status_code, over.json()["code"]) == (409, "withdrawal_exceeds_available")
    assert junk.status_code == 400
    assert (money(d)["available"], Withdrawal.objects.count()) == (5000, 0)

    made = me.client.post(url, {"amount_fen": 3000}, format="json", HTTP_IDEMPOTENCY_KEY="w-1")
    replay = me.client.post(url, {"amount_fen": 3000}, format="json", HTTP_IDEMPOTENCY_KEY="w-1")
    listed = me.client.get(url).json()["results"]
    detail = me.client.get(f"{url}/{made.json()['withdrawal_no']}")
    peek = make_shopper().client.get(f"{url}/{made.json()['withdrawal_no']}")

    assert (made.status_code, made.json()["status"], made.json()["net_fen"]) == (201, "requested", 3000)
    assert (replay.status_code, replay.json()["withdrawal_no"]) == (200, made.json()["withdrawal_no"])
    assert [w["withdrawal_no"] for w in listed] == [made.json()["withdrawal_no"]]
    assert detail.status_code == 200
    assert (peek.status_code, peek.json()["code"]) == (404, "withdrawal_not_found")
    assert money(d)["available"] == 2000


def test_lists_keep_their_query_count_whatever_the_number_of_rows():
    default_freight()
    me, d = as_distributor()

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert me.client.get(path).status_code == 200
        return len(queries)

    sku = SkuFactory.create(price_fen=10000, stock=50)
    shoppers = [buyer() for _ in range(4)]
    bind(shoppers[0], d)
    paid_order(member=shoppers[0], lines=[(sku, 1)])
    with_available(d, 500)
    me.client.post("/api/v1/distribution/withdrawals", {"amount_fen": 100}, format="json")
    small = {p: count(p) for p in ("/api/v1/distribution/team", "/api/v1/distribution/commissions",
                                   "/api/v1/distribution/withdrawals")}
    for shopper in shoppers[1:]:
        bind(shopper, d)
        paid_order(member=shopper, lines=[(sku, 1)])
    me.client.post("/api/v1/distribution/withdrawals", {"amount_fen": 100}, format="json")
    me.client.post("/api/v1/distribution/withdrawals", {"amount_fen": 100}, format="json")

    assert {p: count(p) for p in small} == small
    assert Withdrawal.objects.count() == 3


def test_distribution_switched_off_refuses_applications():
    rules(enabled=False)
    shopper = make_shopper()

    response = shopper.client.post("/api/v1/distribution/apply", {"real_name": "李分销", "phone": "13900139000"},
                                   format="json")

    assert (response.status_code, response.json()["code"]) == (409, "distribution_disabled")
    assert not Distributor.objects.exists()
