"""POST /api/v1/events: batches in, each event stored once, bad ones refused one by one."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

from analytics.models import DeviceMember, Event, EventBuffer
from analytics.services.storage import events_flush
from tests.analytics.support import batch, sent

URL = "/api/v1/events"


def post(client, body, **headers):
    return client.post(URL, body, format="json", **headers)


def stored_ids() -> list[str]:
    return sorted(str(event_id) for event_id in Event.objects.values_list("event_id", flat=True))


@contextmanager
def analytics_table_missing(table: str) -> Iterator[None]:
    """The analytics database failing for real: its table is gone for the block (the test's
    transaction puts it back)."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")


def test_the_same_batch_posted_twice_stores_each_event_once(db, api_client):
    events = [sent("app_launch", scene=1047), sent("page_view"), sent("product_view", product_id=7)]

    first = post(api_client, batch(events))
    second = post(api_client, batch(events))
    events_flush()
    post(api_client, batch(events))  # and once more after the flush
    result = events_flush()

    assert first.status_code == second.status_code == 200
    assert first.json() == {"accepted": 3, "refused": []}
    assert stored_ids() == sorted(e["event_id"] for e in events)
    assert (result.taken, result.stored) == (3, 0)
    assert not EventBuffer.objects.exists()


def test_a_batch_of_50_with_3_bad_events_stores_47_and_names_the_3(db, api_client):
    events = [sent("product_view", product_id=n) for n in range(50)]
    events[4] = sent("no_such_event")
    events[17] = {**sent("add_to_cart", product_id=1), "properties": {"product_id": 1}}  # no sku_id
    events[31] = {**events[31], "event_id": "not-a-uuid"}

    response = post(api_client, batch(events))
    events_flush()

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 47
    assert [(r["index"], r["event_id"], r["code"]) for r in body["refused"]] == [
        (4, events[4]["event_id"], "unknown_event"),
        (17, events[17]["event_id"], "invalid_properties"),
        (31, "not-a-uuid", "invalid_event_id"),
    ]
    assert body["refused"][1]["reason"] == "缺少属性 sku_id"
    good = [e["event_id"] for i, e in enumerate(events) if i not in (4, 17, 31)]
    assert stored_ids() == sorted(good)


def test_a_refused_batch_changes_nothing(db, shopper):
    response = post(shopper.client, batch([sent("no_such_event"), sent("page_view", path=7)]))
    events_flush()

    assert response.status_code == 200
    assert response.json()["accepted"] == 0
    assert [r["code"] for r in response.json()["refused"]] == ["unknown_event", "invalid_properties"]
    assert not Event.objects.exists()
    assert not DeviceMember.objects.exists()  # not even the device's link to the member


def test_a_malformed_envelope_is_refused_whole(db, api_client):
    too_many = [sent() for _ in range(101)]

    responses = [post(api_client, batch(too_many)), post(api_client, {"events": [sent()]}),
                 post(api_client, batch([sent()], device_id="短"))]
    events_flush()

    assert [r.status_code for r in responses] == [400, 400, 400]
    assert {r.json()["code"] for r in responses} == {"invalid_input"}
    assert not Event.objects.exists()


def test_gzip_bodies_are_taken(db, api_client):
    events = [sent("search", keyword="奶粉", result_count=12)]
    body = gzip.compress(json.dumps(batch(events)).encode())

    response = api_client.post(URL, body, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    events_flush()

    assert response.status_code == 200
    assert Event.objects.get().properties == {"keyword": "奶粉", "result_count": 12}


def test_oversized_bodies_are_413(db, api_client, settings):
    settings.ANALYTICS_MAX_BODY_BYTES = 2000
    settings.ANALYTICS_MAX_INFLATED_BYTES = 20_000
    big = batch([sent("search", keyword="x" * 500) for _ in range(5)])
    # A gzip bomb: tiny on the wire, too big once inflated.
    bomb = gzip.compress(json.dumps(batch([sent("search", keyword="y" * 500) for _ in range(60)])).encode())
    assert len(bomb) < 2000

    plain = post(api_client, big)
    inflated = api_client.post(URL, bomb, content_type="application/json", HTTP_CONTENT_ENCODING="gzip")
    corrupt = api_client.post(URL, b"\x1f\x8b not gzip", content_type="application/json",
                              HTTP_CONTENT_ENCODING="gzip")
    events_flush()

    assert (plain.status_code, plain.json()["code"]) == (413, "request_too_large")
    assert (inflated.status_code, inflated.json()["code"]) == (413, "request_too_large")
    assert (corrupt.status_code, corrupt.json()["code"]) == (400, "malformed_request")
    assert not Event.objects.exists()


def test_events_carry_the_device_member_and_platform(db, shopper, api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer expired-or-forged")
    anonymous = post(api_client, batch([sent("page_view")], device_id="device-anon",
                                       model="iPhone 15", wechat_version="8.0.50", network="wifi"))
    member = post(shopper.client, batch([sent("page_view")], device_id="device-anon", platform="android"))
    events_flush()

    assert anonymous.status_code == member.status_code == 200
    rows = list(Event.objects.order_by("member_id").values_list("member_id", "anonymous_id", "platform", "source"))
    assert rows == [(shopper.member.pk, "device-anon", "android", "client"), (None, "device-anon", "ios", "client")]
    assert Event.objects.get(member_id=None).context == {"model": "iPhone 15", "wechat_version": "8.0.50",
                                                         "network": "wifi"}
    assert DeviceMember.objects.get().member_id == shopper.member.pk


def test_sensors_data_presets_map_onto_the_catalogue(db, api_client):
    launch = {"event_id": str(uuid.uuid4()), "name": "$MPLaunch", "time": int(timezone.now().timestamp() * 1000),
              "properties": {"$scene": 1047, "$url_path": "pages/product/detail", "$url_query": {"id": "8"},
                             "$utm_source": "poster", "$is_first_time": True, "$share_depth": 2,
                             "$share_distinct_id": "device-friend", "$lib_version": "1.14"}}

    response = post(api_client, batch([launch]))
    events_flush()

    assert response.json()["accepted"] == 1
    event = Event.objects.get()
    assert event.name == "app_launch"
    assert event.properties == {"scene": 1047, "path": "pages/product/detail", "query": {"id": "8"},
                                "utm_source": "poster", "is_first_visit": True, "share_depth": 2,
                                "sharer": "device-friend"}


def test_a_clock_ahead_is_clamped_and_a_stale_event_refused(db, api_client):
    now = timezone.now()
    ahead = sent("page_view", at=now + dt.timedelta(hours=3))
    stale = sent("page_view", at=now - dt.timedelta(days=8))

    response = post(api_client, batch([ahead, stale]))
    events_flush()

    assert [r["code"] for r in response.json()["refused"]] == ["event_too_old"]
    event = Event.objects.get()
    assert event.client_time is not None and event.client_time > event.received_at
    assert event.occurred_at == event.received_at
    assert now <= event.received_at <= timezone.now()


def test_sending_is_rate_limited_per_device(db, api_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "events_device": "2/m"}

    codes = [post(api_client, batch([sent()])).status_code for _ in range(3)]
    other_device = post(api_client, batch([sent()], device_id="device-0002"))

    assert codes == [200, 200, 429]
    assert other_device.status_code == 200


def test_sending_is_rate_limited_per_address_whatever_the_device(db, api_client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "events_address": "2/m"}

    responses = [post(api_client, batch([sent()], device_id=f"device-{n:04d}")) for n in range(3)]
    events_flush()

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json()["code"] == "rate_limited"
    assert Event.objects.count() == 2  # the refused batch stored nothing


def test_the_analytics_database_down_is_a_503_and_keeps_nothing(db, api_client):
    with analytics_table_missing("analytics_eventbuffer"):
        response = post(api_client, batch([sent()]))

    assert (response.status_code, response.json()["code"]) == (503, "analytics_unavailable")
    events_flush()
    assert not Event.objects.exists()
