"""POST/GET /api/v1/subscriptions: what the shopper accepted in wx.requestSubscribeMessage."""

from __future__ import annotations

import pytest

from wechat.models import SubscribeConsent

PAID = "sandbox-tmpl-order-paid"
SHIPPED = "sandbox-tmpl-order-shipped"
URL = "/api/v1/subscriptions"


def credits_by_key(response) -> dict[str, int]:
    assert response.status_code == 200, response.content
    return {t["key"]: t["credits"] for t in response.json()["templates"]}


def post(shopper, body):
    return shopper.client.post(URL, body, format="json")


def test_get_lists_every_template_with_the_id_to_ask_for(shopper):
    response = shopper.client.get(URL)

    templates = response.json()["templates"]
    assert [t["key"] for t in templates] == ["order_paid", "order_shipped", "after_sale_progress", "birthday",
                                             "group_buy_result", "points_expiring", "coupon_expiring",
                                             "distributor_review"]
    assert templates[0] == {"key": "order_paid", "template_id": PAID, "title": "订单支付成功通知", "credits": 0,
                            "last_result": ""}


def test_each_accept_is_one_credit_and_a_reject_changes_none(shopper):
    first = post(shopper, {"results": {PAID: "accept", SHIPPED: "reject"}})
    second = post(shopper, {"results": {PAID: "accept", SHIPPED: "accept"}})
    third = post(shopper, {"results": {PAID: "reject"}})

    after_first = credits_by_key(first)
    assert (after_first["order_paid"], after_first["order_shipped"]) == (1, 0)
    assert credits_by_key(second)["order_paid"] == 2 and credits_by_key(second)["order_shipped"] == 1
    assert credits_by_key(third)["order_paid"] == 2
    row = SubscribeConsent.objects.get(member_id=shopper.member.pk, template_id=PAID)
    assert (row.credits, row.accepted_total, row.last_result, row.openid) == (2, 2, "reject", shopper.member.openid)
    assert credits_by_key(shopper.client.get(URL))["order_paid"] == 2


def test_the_raw_wx_result_with_its_errMsg_is_accepted(shopper):
    response = post(shopper, {"results": {"errMsg": "requestSubscribeMessage:ok", PAID: "accept"}})
    assert credits_by_key(response)["order_paid"] == 1


def test_an_unknown_template_id_is_refused_and_nothing_changes(shopper):
    response = post(shopper, {"results": {PAID: "accept", "not-ours": "accept"}})

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_template"
    assert response.json()["detail"] == {"template_ids": ["not-ours"]}
    assert not SubscribeConsent.objects.exists()


@pytest.mark.parametrize("value", ["yes", "", "ACCEPT"])
def test_an_answer_that_is_not_one_of_the_four_is_refused(shopper, value):
    response = post(shopper, {"results": {PAID: "accept", SHIPPED: value}})

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_subscribe_result", "invalid_input"}
    assert not SubscribeConsent.objects.exists()


@pytest.mark.parametrize("body", [{}, {"results": {}}, {"results": ["accept"]}, {"results": "accept"},
                                  {"results": {"errMsg": "requestSubscribeMessage:ok"}},
                                  {"results": {PAID: ["accept"]}}])
def test_a_body_without_results_is_invalid_input(shopper, body):
    response = post(shopper, body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert not SubscribeConsent.objects.exists()


def test_broken_json_is_a_400(shopper):
    response = shopper.client.generic("POST", URL, '{"results": {', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_too_many_results_at_once_are_refused(shopper):
    response = post(shopper, {"results": {f"t{i}": "accept" for i in range(21)}})
    assert response.status_code == 400 and response.json()["code"] == "invalid_input"


def test_another_members_credits_are_untouched(shopper, other_shopper):
    post(other_shopper, {"results": {PAID: "accept"}})

    post(shopper, {"results": {PAID: "accept"}})
    post(shopper, {"results": {PAID: "accept"}})

    assert credits_by_key(other_shopper.client.get(URL))["order_paid"] == 1
    assert credits_by_key(shopper.client.get(URL))["order_paid"] == 2


def test_a_stranger_is_asked_to_log_in(api_client, db):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"results": {PAID: "accept"}}, format="json").status_code == 401
