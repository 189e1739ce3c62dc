"""WeChat login through jscode2session on the sandbox; our own bearer tokens; the profile."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from members.models import Member, MemberToken


@pytest.fixture
def client(db):
    return APIClient()


def login(client, code):
    return client.post("/api/v1/auth/wechat/login", {"code": code}, format="json")


def test_first_login_creates_the_member_and_returns_our_token(client, sandbox):
    phone_user = sandbox.login_code()

    response = login(client, phone_user["code"])

    assert response.status_code == 200
    body = response.json()
    assert body["is_new_member"] is True
    member = Member.objects.get(openid=phone_user["openid"])
    assert body["member"]["id"] == member.pk
    assert "session_key" not in response.content.decode()
    assert member.session_key  # kept on the server
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert client.get("/api/v1/me").json()["id"] == member.pk


def test_second_login_finds_the_same_member(client, sandbox):
    first = sandbox.login_code()
    login(client, first["code"])
    again = login(client, sandbox.login_code(openid=first["openid"])["code"]).json()
    assert again["is_new_member"] is False
    assert Member.objects.filter(openid=first["openid"]).count() == 1
    assert MemberToken.objects.filter(member__openid=first["openid"]).count() == 2


def test_a_used_or_unknown_code_is_refused(client, sandbox):
    code = sandbox.login_code()["code"]
    assert login(client, code).status_code == 200
    for bad in [code, "never-issued"]:
        response = login(client, bad)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_wechat_code"
    assert Member.objects.count() == 1


def test_profile_fields_the_member_fills_in(shopper):
    response = shopper.client.patch("/api/v1/me", {"nickname": "小鱼", "gender": "female",
                                                   "birthday": "1995-02-28", "province": "广东省",
                                                   "city": "深圳市"}, format="json")
    assert response.status_code == 200
    shopper.member.refresh_from_db()
    assert (shopper.member.nickname, shopper.member.gender, str(shopper.member.birthday)) == (
        "小鱼", "female", "1995-02-28")


def test_phone_number_through_the_getphonenumber_code(shopper, sandbox):
    code = sandbox.phone_code("13912345678")
    response = shopper.client.post("/api/v1/me/phone", {"code": code}, format="json")
    assert response.status_code == 200
    assert response.json()["phone"] == "13912345678"


def test_addresses_keep_exactly_one_default(shopper):
    first = shopper.member.addresses.get()
    body = {"receiver_name": "李四", "phone": "13700000000", "province": "上海市", "city": "上海市",
            "district": "浦东新区", "detail": "世纪大道 1 号", "is_default": True}
    second = shopper.client.post("/api/v1/addresses/", body, format="json").json()

    defaults = list(shopper.member.addresses.filter(is_default=True).values_list("id", flat=True))
    assert defaults == [second["id"]]
    assert shopper.client.delete(f"/api/v1/addresses/{second['id']}/").status_code == 204
    assert list(shopper.member.addresses.filter(is_default=True).values_list("id", flat=True)) == [first.pk]
    # checkout uses the default without asking
    from tests.factories import SkuFactory, default_freight

    default_freight()
    sku = SkuFactory.create(stock=1)
    preview = shopper.client.post("/api/v1/checkout/preview", {"items": [{"sku_id": sku.pk, "quantity": 1}]},
                                  format="json").json()
    assert preview["address"]["id"] == first.pk
