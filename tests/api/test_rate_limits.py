"""Every rate-limited write (and the data export): the limit holds under 20 concurrent requests from separate processes,
a refused request gets 429 with Retry-After and the error shape, and the next window works again."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from core import ratelimit
from tests.fixtures import make_shopper
from tests.processes import run_in_processes

WINDOW_START = 1_699_999_200  # a multiple of 60 and of 3600


@dataclass(frozen=True)
class Limited:
    scope: str
    path: str
    body: dict | None = None
    member: bool = True  # the request carries a member's token
    method: str = "POST"

    def __str__(self) -> str:
        return f"{self.scope}:{self.path}"

    def send(self, client):
        if self.method == "GET":
            return client.get(self.path)
        return client.post(self.path, self.body, format="json")


CODE = "ABCDEFGH2345"
LIMITED = [
    Limited("login", "/api/v1/auth/wechat/login", {"code": "guess"}, member=False),
    Limited("phone_bind", "/api/v1/me/phone", {"code": "guess"}),
    Limited("coupon_claim", "/api/v1/coupons/center/999999/claim"),
    Limited("coupon_claim", "/api/v1/coupons/scan", {"scene": "nothing"}),
    Limited("code_redeem", "/api/v1/coupons/redeem", {"code": CODE}),
    Limited("signin", "/api/v1/me/signin"),
    Limited("review", "/api/v1/order-lines/999999/review", {"rating": 5, "content": "好"}),
    Limited("review", "/api/v1/reviews/999999/followup", {"content": "好"}),
    Limited("after_sale", "/api/v1/after-sales/", {}),
    Limited("photo_upload", "/api/v1/uploads/review-photos"),
    Limited("photo_upload", "/api/v1/uploads/after-sale-photos"),
    Limited("data_export", "/api/v1/me/export", method="GET"),
]


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = WINDOW_START + 10.0

    monkeypatch.setattr(ratelimit, "clock", lambda: Clock.now)
    return Clock


def limit(settings, **rates: str) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}


def assert_rate_limited(response, retry_after: int) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(retry_after)
    assert response.json() == {"code": "rate_limited", "message": "操作太频繁，请稍后再试",
                               "detail": {"retry_after": retry_after}}


@pytest.mark.parametrize("case", LIMITED, ids=str)
def test_a_write_past_its_limit_is_refused_until_the_next_window(case, db, settings, sandbox, clock, api_client):
    limit(settings, **{case.scope: "2/m"})
    client = make_shopper().client if case.member else api_client

    answers = [case.send(client) for _ in range(3)]

    assert [a.status_code != 429 for a in answers] == [True, True, False]
    assert_rate_limited(answers[2], retry_after=50)

    clock.now = WINDOW_START + 60
    assert case.send(client).status_code != 429


def test_redeem_attempts_are_limited_per_address_across_members(db, settings, clock):
    limit(settings, code_redeem="100/h", code_redeem_address="2/h")
    shoppers = [make_shopper() for _ in range(3)]

    answers = [s.client.post("/api/v1/coupons/redeem", {"code": CODE}, format="json") for s in shoppers]

    assert [a.status_code for a in answers] == [404, 404, 429]
    assert_rate_limited(answers[2], retry_after=3590)
    other_address = shoppers[2].client.post("/api/v1/coupons/redeem", {"code": CODE}, format="json",
                                            REMOTE_ADDR="10.0.0.2")
    assert other_address.status_code == 404


def test_one_members_limit_leaves_another_member_alone(db, settings, clock):
    limit(settings, coupon_claim="1/m")
    first, second = make_shopper(), make_shopper()
    first.client.post("/api/v1/coupons/center/999999/claim")

    assert first.client.post("/api/v1/coupons/center/999999/claim").status_code == 429
    assert second.client.post("/api/v1/coupons/center/999999/claim").status_code == 404


def test_reads_are_not_counted(db, settings, clock):
    limit(settings, after_sale="1/m")
    shopper = make_shopper()

    assert [shopper.client.get("/api/v1/after-sales/").status_code for _ in range(3)] == [200, 200, 200]
    assert shopper.client.post("/api/v1/after-sales/", {}, format="json").status_code == 400


def test_the_data_export_lets_normal_use_through_and_counts_per_member(db, settings, clock):
    first, second = make_shopper(), make_shopper()

    answers = [first.client.get("/api/v1/me/export") for _ in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [429]  # the default, 5/h
    assert_rate_limited(answers[5], retry_after=3590)
    assert second.client.get("/api/v1/me/export").status_code == 200


def test_a_forwarded_address_is_not_trusted_without_a_proxy(db, settings, clock, api_client):
    # NUM_PROXIES is 0 locally: a forged X-Forwarded-For must not buy a fresh limit per request.
    limit(settings, login="1/m")
    api_client.post("/api/v1/auth/wechat/login", {"code": "guess"}, format="json")

    forged = api_client.post("/api/v1/auth/wechat/login", {"code": "guess"}, format="json",
                             HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert forged.status_code == 429


def post_status(url: str, body: dict | None, token: str | None, method: str = "POST") -> tuple[int, str | None]:
    """POST (or GET) over HTTP from a child process: the status and the Retry-After header."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body or {}).encode() if method == "POST" else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After")


@pytest.mark.parametrize("case", LIMITED, ids=str)
def test_twenty_processes_at_once_get_exactly_the_limit(case, mall, settings):
    limit(settings, **{case.scope: "5/h"})
    token = make_shopper().token if case.member else None

    answers = run_in_processes(lambda i: post_status(mall.url + case.path, case.body, token, case.method), 20)

    refused = [a for a in answers if a[0] == 429]
    assert len(refused) == 15, answers
    assert all(retry_after is not None and 1 <= int(retry_after) <= 3600 for _, retry_after in refused)


def test_twenty_processes_redeeming_as_twenty_members_get_exactly_the_address_limit(mall, settings):
    limit(settings, code_redeem="100/h", code_redeem_address="5/h")
    tokens = [make_shopper().token for _ in range(20)]

    answers = run_in_processes(
        lambda i: post_status(mall.url + "/api/v1/coupons/redeem", {"code": CODE}, tokens[i]), 20)

    assert sorted(status for status, _ in answers) == [404] * 5 + [429] * 15
