"""Tracking: the provider port's adapters, the refresh job that caches checkpoints on each package,
and the shopper's GET /api/v1/orders/{order_no}/shipments that reads only the cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from shop.logistics import TrackingUnavailable, get_provider
from shop.logistics.kuaidi100 import Kuaidi100, parse_answer
from shop.logistics.sandbox import SandboxLogistics
from shop.models import LogisticsState, Shipment
from shop.services.shipping import PackageInput, shipment_create, shipment_refresh_tracking
from tests.builders import lines_of, paid_order
from tests.factories import SkuFactory
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db

CUSTOMER, KEY = "TESTCUSTOMER0001", "test-key-0001"


class FakeKuaidi100:
    """A Kuaidi100 query.do over HTTP: checks the signature like Kuaidi100, counts requests.

    A tracking number ending in 3 is delivered (ischeck 1); one ending in 0 has no result yet
    (returnCode 500); one ending in 9 makes the server fail (returnCode 501); others are in transit.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[-1] for k, v in urllib.parse.parse_qs(body).items()}
                fake.requests.append({"path": self.path, "form": form})
                answer = fake.answer(self.path, form)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        if path != "/poll/query.do":
            return {"result": False, "returnCode": "404", "message": "no such path"}
        expected = hashlib.md5((form.get("param", "") + KEY + CUSTOMER).encode()).hexdigest().upper()
        if form.get("customer") != CUSTOMER or form.get("sign") != expected:
            return {"result": False, "returnCode": "503", "message": "验证签名失败"}
        param = json.loads(form["param"])
        num = param["num"]
        if param["com"] == "shunfeng" and param.get("phone") != "8000":
            return {"result": False, "returnCode": "408", "message": "您提交的手机号码后四位验证失败"}
        if num.endswith("0"):
            return {"result": False, "returnCode": "500", "message": "查询无结果，请隔段时间再查"}
        if num.endswith("9"):
            return {"result": False, "returnCode": "501", "message": "服务器错误"}
        delivered = num.endswith("3")
        data = [{"time": "2026-11-20 09:15:00", "ftime": "2026-11-20 09:15:00", "context": "【深圳市】已揽收",
                 "location": "深圳市", "status": "揽收", "statusCode": "1"},
                {"time": "2026-11-21 18:02:11", "ftime": "2026-11-21 18:02:11", "context": "【杭州市】到达杭州转运中心",
                 "location": "杭州市", "status": "在途", "statusCode": "0"}]
        if delivered:
            data.append({"time": "2026-11-22 10:33:55", "ftime": "2026-11-22 10:33:55",
                         "context": "【杭州市】已签收，签收人：本人", "location": "杭州市", "status": "签收",
                         "statusCode": "301"})
        data.reverse()
        return {"message": "ok", "nu": num, "ischeck": "1" if delivered else "0", "com": param["com"],
                "status": "200", "condition": "F00", "state": "3" if delivered else "0", "data": data}

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def kuaidi100(settings):
    fake = FakeKuaidi100()
    settings.LOGISTICS_PROVIDER = "kuaidi100"
    settings.LOGISTICS_API_BASE = fake.base_url
    settings.LOGISTICS_API_CUSTOMER, settings.LOGISTICS_API_KEY = CUSTOMER, KEY
    yield fake
    fake.stop()


@pytest.fixture
def shipped(freight, sandbox):
    """A paid order of two lines shipped in two packages: SF …0003 (delivered), ZTO …0001."""
    a, b = SkuFactory.create(price_fen=1990, stock=9), SkuFactory.create(price_fen=2990, stock=9)
    shopper = make_shopper()
    order = paid_order(member=shopper.member, lines=[(a, 1), (b, 2)], sandbox=sandbox)
    first, second = lines_of(order)
    shipment_create(order=order, packages=[PackageInput("SF", "SF100000000003", {first.pk: 1}),
                                           PackageInput("ZTO", "ZT100000000001", {second.pk: 2})])
    return shopper, order


# --- adapters ---------------------------------------------------------------------------------------


def test_the_sandbox_provider_is_deterministic_and_dated_before_today():
    provider = SandboxLogistics(today=dt.date(2026, 11, 23))

    answer = provider.query(carrier_code="SF", tracking_no="SF1234567890")

    assert answer == provider.query(carrier_code="SF", tracking_no="SF1234567890")
    assert 1 <= len(answer.checkpoints) <= 5
    times = [c.time for c in answer.checkpoints]
    assert times == sorted(times, reverse=True)  # newest first
    assert all(t.date() < dt.date(2026, 11, 23) for t in times)
    assert answer.checkpoints[-1].state == LogisticsState.COLLECTED and "顺丰速运" in answer.checkpoints[-1].text
    assert answer.state == answer.checkpoints[0].state
    assert (answer.delivered_at is not None) == (answer.state == LogisticsState.DELIVERED)
    states = {provider.query(carrier_code="ZTO", tracking_no=f"ZT{n:010d}").state for n in range(40)}
    assert states == {"collected", "in_transit", "delivering", "delivered"}


def test_kuaidi100_signs_its_query_and_reads_the_answer(kuaidi100):
    provider = get_provider()
    assert isinstance(provider, Kuaidi100)

    answer = provider.query(carrier_code="SF", tracking_no="SF100000000003", phone_tail="8000")

    form = kuaidi100.requests[-1]["form"]
    assert json.loads(form["param"]) == {"com": "shunfeng", "num": "SF100000000003", "resultv2": "1", "show": "0",
                                         "order": "desc", "phone": "8000"}
    assert answer.state == LogisticsState.DELIVERED
    assert [c.text for c in answer.checkpoints] == ["【杭州市】已签收，签收人：本人", "【杭州市】到达杭州转运中心",
                                                    "【深圳市】已揽收"]
    beijing = dt.timezone(dt.timedelta(hours=8))
    assert answer.checkpoints[0].time == dt.datetime(2026, 11, 22, 10, 33, 55, tzinfo=beijing)
    assert answer.delivered_at == answer.checkpoints[0].time
    assert [c.state for c in answer.checkpoints] == ["delivered", "in_transit", "collected"]
    # no result yet is not an error; a server error is worth retrying later; a bad key too
    assert provider.query(carrier_code="ZTO", tracking_no="ZT100000000000").state == LogisticsState.UNKNOWN
    with pytest.raises(TrackingUnavailable, match="501"):
        provider.query(carrier_code="ZTO", tracking_no="ZT100000000009")
    with pytest.raises(TrackingUnavailable, match="503"):
        Kuaidi100(base_url=kuaidi100.base_url, customer=CUSTOMER, key="wrong").query(
            carrier_code="ZTO", tracking_no="ZT100000000001")


def test_kuaidi100_answers_parse_defensively():
    assert parse_answer({"message": "ok", "status": "200", "state": "5", "ischeck": "0",
                         "data": [{"ftime": "not a time", "context": "x"}]}).state == LogisticsState.UNKNOWN
    answer = parse_answer({"message": "ok", "status": "200", "state": "501", "ischeck": "0",
                           "data": [{"ftime": "2026-11-22 08:00:00", "context": "派送中"}]})
    assert answer.state == LogisticsState.DELIVERING


# --- the refresh job ---------------------------------------------------------------------------------


def test_refresh_caches_checkpoints_skips_delivered_and_respects_the_interval(shipped, kuaidi100):
    _, order = shipped
    now = timezone.now()

    counts = shipment_refresh_tracking(now=now)

    assert counts == {"refreshed": 2, "delivered": 1, "unavailable": 0}
    sf, zto = Shipment.objects.filter(order=order).order_by("id")
    assert (sf.logistics_state, sf.tracked_at) == (LogisticsState.DELIVERED, now)
    assert sf.delivered_at == dt.datetime(2026, 11, 22, 2, 33, 55, tzinfo=dt.UTC)
    assert [c["text"] for c in sf.checkpoints][0] == "【杭州市】已签收，签收人：本人"
    assert sf.checkpoints[0]["time"] == "2026-11-22T10:33:55+08:00"
    assert (zto.logistics_state, zto.delivered_at) == (LogisticsState.IN_TRANSIT, None)
    assert len(kuaidi100.requests) == 2

    # within the minimum interval nothing is asked again
    assert shipment_refresh_tracking(now=now + dt.timedelta(minutes=30))["refreshed"] == 0
    # after it, only the parcel still in transit is
    later = now + dt.timedelta(minutes=121)
    assert shipment_refresh_tracking(now=later) == {"refreshed": 1, "delivered": 0, "unavailable": 0}
    assert len(kuaidi100.requests) == 3
    assert json.loads(kuaidi100.requests[-1]["form"]["param"])["num"] == "ZT100000000001"


def test_a_provider_failure_waits_for_the_next_interval(shipped, kuaidi100):
    _, order = shipped
    Shipment.objects.filter(order=order, carrier_code="ZTO").update(tracking_no="ZT100000000009")
    now = timezone.now()

    counts = shipment_refresh_tracking(now=now)

    assert counts == {"refreshed": 1, "delivered": 1, "unavailable": 1}
    failed = Shipment.objects.get(order=order, carrier_code="ZTO")
    assert (failed.tracked_at, failed.checkpoints, failed.logistics_state) == (now, [], LogisticsState.UNKNOWN)


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_refresh_the_same_package(shipped, kuaidi100):
    """A package locked by another worker's batch is skipped (SKIP LOCKED), not waited for."""
    _, order = shipped
    sf = Shipment.objects.get(order=order, carrier_code="SF")
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        with transaction.atomic():
            Shipment.objects.select_for_update().get(pk=sf.pk)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        counts = shipment_refresh_tracking()
    finally:
        release.set()
        thread.join()

    assert counts["refreshed"] == 1
    assert [json.loads(r["form"]["param"])["num"] for r in kuaidi100.requests] == ["ZT100000000001"]
    assert Shipment.objects.get(pk=sf.pk).tracked_at is None


# --- the shopper's view ------------------------------------------------------------------------------


def test_the_shopper_sees_packages_and_cached_checkpoints_without_a_provider_call(shipped, kuaidi100):
    shopper, order = shipped
    shipment_refresh_tracking()
    asked = len(kuaidi100.requests)

    response = shopper.client.get(f"/api/v1/orders/{order.order_no}/shipments")

    assert response.status_code == 200, response.content
    body = response.json()
    assert len(kuaidi100.requests) == asked  # read from the cache only
    assert (body["order_no"], body["status"], body["status_label"]) == (order.order_no, "shipped", "已发货")
    assert body["unshipped"] == []
    sf, zto = body["shipments"]
    assert (sf["carrier"], sf["carrier_code"], sf["tracking_no"]) == ("顺丰速运", "SF", "SF100000000003")
    assert (sf["logistics_state"], sf["logistics_state_label"]) == ("delivered", "已签收")
    assert sf["delivered_at"] is not None and sf["tracked_at"] is not None
    assert [c["text"] for c in sf["checkpoints"]][:1] == ["【杭州市】已签收，签收人：本人"]
    assert set(sf["checkpoints"][0]) == {"time", "text", "location", "state"}
    first, second = lines_of(order)
    assert [(i["order_line_id"], i["quantity"]) for i in sf["items"]] == [(first.pk, 1)]
    assert [(i["order_line_id"], i["quantity"]) for i in zto["items"]] == [(second.pk, 2)]
    assert zto["logistics_state"] == "in_transit"


def test_partial_shipments_show_what_is_still_to_come(freight, sandbox):
    a, b = SkuFactory.create(stock=5), SkuFactory.create(stock=5)
    shopper = make_shopper()
    order = paid_order(member=shopper.member, lines=[(a, 2), (b, 1)], sandbox=sandbox)
    first, second = lines_of(order)
    shipment_create(order=order, packages=[PackageInput("YTO", "YT1234567890", {first.pk: 1})])

    body = shopper.client.get(f"/api/v1/orders/{order.order_no}/shipments").json()

    assert body["status"] == "paid"
    assert [s["logistics_state"] for s in body["shipments"]] == ["unknown"]  # not tracked yet
    assert body["shipments"][0]["checkpoints"] == [] and body["shipments"][0]["tracked_at"] is None
    assert [(i["order_line_id"], i["quantity"]) for i in body["unshipped"]] == [(first.pk, 1), (second.pk, 1)]


def test_the_query_count_does_not_grow_with_packages(freight, sandbox, django_assert_max_num_queries):
    skus = [SkuFactory.create(stock=5) for _ in range(4)]
    shopper = make_shopper()
    one = paid_order(member=shopper.member, lines=[(skus[0], 1)], sandbox=sandbox)
    many = paid_order(member=shopper.member, lines=[(s, 1) for s in skus], sandbox=sandbox)
    shipment_create(order=one, packages=[PackageInput("SF", "SF0000000001", None)])
    shipment_create(order=many, packages=[PackageInput("SF", f"SF000000001{n}", {line.pk: 1})
                                          for n, line in enumerate(lines_of(many))])
    shipment_refresh_tracking(provider=SandboxLogistics())
    shopper.client.get(f"/api/v1/orders/{one.order_no}/shipments")  # warm up

    with django_assert_max_num_queries(8) as few:
        assert shopper.client.get(f"/api/v1/orders/{one.order_no}/shipments").status_code == 200
    budget = len(few.captured_queries)  # now: a later request empties the connection's query log
    with django_assert_max_num_queries(budget):
        body = shopper.client.get(f"/api/v1/orders/{many.order_no}/shipments").json()
    assert len(body["shipments"]) == 4 and all(s["checkpoints"] for s in body["shipments"])


def test_another_members_packages_are_not_found(shipped):
    _, order = shipped
    stranger = make_shopper()

    response = stranger.client.get(f"/api/v1/orders/{order.order_no}/shipments")

    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"
    assert stranger.client.get("/api/v1/orders/NOPE/shipments").status_code == 404
    from rest_framework.test import APIClient

    assert APIClient().get(f"/api/v1/orders/{order.order_no}/shipments").status_code == 401
