"""GET /api/v1/flash-sales/sessions[/<id>]: server time, states, stock, my allowance; query budget."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import FlashPurchase
from campaigns.selectors.flash import flash_board
from catalog.models import Sku
from tests.factories import FlashItemFactory, FlashSessionFactory, MemberFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/flash-sales/sessions"


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _session_at(start: dt.datetime, hours: int = 2, **fields):
    session = FlashSessionFactory.create(starts_at=start, ends_at=start + dt.timedelta(hours=hours), **fields)
    FlashItemFactory.create(session=session)
    return session


def test_the_board_shows_today_and_tomorrow_with_their_states():
    # given sessions around a fixed afternoon, 15:00 Shanghai on 15 June
    today = dt.date(2030, 6, 15)
    now = _at(today, 15)
    yesterday, tomorrow = today - dt.timedelta(days=1), today + dt.timedelta(days=1)
    _session_at(_at(yesterday, 20))  # ended yesterday: not shown
    late = _session_at(_at(yesterday, 23))  # 23:00–01:00, ended today
    morning = _session_at(_at(today, 10))
    afternoon = _session_at(_at(today, 14))
    evening = _session_at(_at(today, 20))
    _session_at(_at(today, 20) + dt.timedelta(minutes=30), is_active=False)  # disabled
    FlashSessionFactory.create(starts_at=_at(today, 21), ends_at=_at(today, 22))  # no items yet
    next_morning = _session_at(_at(tomorrow, 10))
    _session_at(_at(tomorrow + dt.timedelta(days=1), 10))  # the day after tomorrow: not yet

    board = flash_board(now=now, member_id=None)

    assert board.server_time == now
    assert [(s.id, s.state, s.state_label) for s in board.sessions] == [
        (late.pk, "ended", "已结束"),
        (morning.pk, "ended", "已结束"),
        (afternoon.pk, "running", "抢购中"),
        (evening.pk, "upcoming", "即将开始"),
        (next_morning.pk, "upcoming", "即将开始"),
    ]
    assert board.current_session_id == afternoon.pk


def test_with_nothing_running_the_next_session_is_current():
    today = dt.date(2030, 6, 15)
    _session_at(_at(today, 10))
    evening = _session_at(_at(today, 20))

    assert flash_board(now=_at(today, 13), member_id=None).current_session_id == evening.pk
    assert flash_board(now=_at(today, 23), member_id=None).current_session_id is None


def test_anonymous_list_shape(api_client):
    # given a running session with a ¥99 → ¥49 item, 7 of 20 sold, and an upcoming one
    product = ProductFactory.create(name="婴儿湿巾 80 抽", main_image="products/wipes.png")
    sku = SkuFactory.create(product=product, price_fen=9900, specs={"规格": "80抽", "包数": "3包"})
    item = FlashItemFactory.create(sku=sku, flash_price_fen=4900, stock_total=20, stock_left=13, per_member_limit=2)
    session = item.session
    upcoming = _session_at(timezone.now() + dt.timedelta(hours=2))

    before = timezone.now()
    response = api_client.get(URL)
    after = timezone.now()

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"server_time", "current_session_id", "sessions"}
    assert before <= dt.datetime.fromisoformat(body["server_time"]) <= after
    assert body["current_session_id"] == session.pk
    assert [s["id"] for s in body["sessions"]] == [session.pk, upcoming.pk]
    first = body["sessions"][0]
    assert {k: v for k, v in first.items() if k != "items"} == {
        "id": session.pk, "name": session.name, "state": "running", "state_label": "抢购中",
        "starts_at": timezone.localtime(session.starts_at).isoformat(),
        "ends_at": timezone.localtime(session.ends_at).isoformat(),
    }
    assert first["items"] == [{
        "id": item.pk, "sku_id": sku.pk, "product_id": product.pk, "product_name": "婴儿湿巾 80 抽",
        "image_url": "http://testserver/media/products/wipes.png", "spec_text": Sku.objects.get(pk=sku.pk).spec_text,
        "list_price_fen": 9900, "flash_price_fen": 4900, "stock_total": 20, "stock_left": 13,
        "sold_percent": 35, "per_member_limit": 2, "my_remaining": None,
    }]
    assert body["sessions"][1]["state"] == "upcoming"


def test_signed_in_member_sees_what_is_left_of_the_allowance(shopper):
    session = FlashSessionFactory.create()
    held = FlashItemFactory.create(session=session, per_member_limit=3, sort=1)
    used_up = FlashItemFactory.create(session=session, per_member_limit=1, sort=2)
    untouched = FlashItemFactory.create(session=session, per_member_limit=2, sort=3)
    FlashPurchase.objects.create(item=held, member=shopper.member, quantity=1)
    FlashPurchase.objects.create(item=used_up, member=shopper.member, quantity=1)
    FlashPurchase.objects.create(item=untouched, member=MemberFactory.create(), quantity=2)  # someone else's

    response = shopper.client.get(URL)

    assert response.status_code == 200
    items = response.json()["sessions"][0]["items"]
    assert [(i["id"], i["my_remaining"]) for i in items] == [(held.pk, 2), (used_up.pk, 0), (untouched.pk, 2)]


def test_sold_percent_is_100_only_when_sold_out(api_client):
    almost = FlashItemFactory.create(stock_total=200, stock_left=1, sort=1)
    gone = FlashItemFactory.create(session=almost.session, stock_total=3, stock_left=0, sort=2)

    items = api_client.get(URL).json()["sessions"][0]["items"]

    assert [(i["id"], i["sold_percent"], i["stock_left"]) for i in items] == [(almost.pk, 99, 1), (gone.pk, 100, 0)]


def test_items_off_the_shelf_are_not_shown(api_client):
    shown = FlashItemFactory.create(sort=1)
    off_shelf = SkuFactory.create(product=ProductFactory.create(is_on_shelf=False))
    FlashItemFactory.create(session=shown.session, sku=off_shelf, sort=2)
    FlashItemFactory.create(session=shown.session, sku=SkuFactory.create(is_active=False), sort=3)

    items = api_client.get(URL).json()["sessions"][0]["items"]

    assert [i["id"] for i in items] == [shown.pk]


def test_session_detail(shopper):
    item = FlashItemFactory.create(per_member_limit=2)
    session = item.session
    FlashPurchase.objects.create(item=item, member=shopper.member, quantity=1)

    response = shopper.client.get(f"{URL}/{session.pk}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"server_time", "session"}
    assert body["session"]["id"] == session.pk
    assert body["session"]["state"] == "running"
    assert [(i["id"], i["my_remaining"]) for i in body["session"]["items"]] == [(item.pk, 1)]


def test_detail_of_an_ended_session_says_ended(api_client):
    now = timezone.now()
    session = _session_at(now - dt.timedelta(hours=3))

    body = api_client.get(f"{URL}/{session.pk}").json()

    assert body["session"]["state"] == "ended"


@pytest.mark.parametrize("path", ["/999999999", "/9223372036854775808"])
def test_unknown_session_is_a_404_in_the_error_shape(api_client, path):
    response = api_client.get(URL + path)

    assert response.status_code == 404
    assert response.json() == {"code": "flash_session_not_found", "message": "秒杀场次不存在",
                               "detail": {"session_id": int(path[1:])}}


def test_a_disabled_session_is_not_found_and_a_non_numeric_id_is_a_plain_404(api_client):
    session = _session_at(timezone.now(), is_active=False)

    disabled = api_client.get(f"{URL}/{session.pk}")
    garbage = api_client.get(f"{URL}/abc")

    assert (disabled.status_code, disabled.json()["code"]) == (404, "flash_session_not_found")
    assert (garbage.status_code, garbage.json()["code"]) == (404, "not_found")


def test_a_bad_token_is_refused_not_treated_as_anonymous(api_client):
    FlashItemFactory.create()
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_query_count_does_not_grow_with_sessions_or_items(shopper):
    now = timezone.now()
    FlashItemFactory.create()

    with CaptureQueriesContext(connection) as small:
        assert shopper.client.get(URL).status_code == 200
    for hours in (2, 4):
        session = _session_at(now + dt.timedelta(hours=hours))
        for _ in range(4):
            item = FlashItemFactory.create(session=session)
            FlashPurchase.objects.create(item=item, member=shopper.member, quantity=1)
    with CaptureQueriesContext(connection) as large:
        body = shopper.client.get(URL).json()

    assert sum(len(s["items"]) for s in body["sessions"]) == 1 + 2 * 5
    # the token, then sessions, items and the member's purchases: one query each
    assert len(small) == len(large) == 4, [q["sql"][:80] for q in large]
