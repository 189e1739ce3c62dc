"""The distribution (分销) story over HTTP against the live mall and the WeChat sandbox:

two members apply and an operator approves them in the console; the second arrived through the
first's poster, so they form a chain → a new member scans the second's poster and is bound → buys
at the member price → pays through the sandbox → commission pending for level 1 and level 2 to the
fen → shipped, received → the after-sales window passes (the settlement job) → available →
the distributor withdraws → an operator approves and pays in the console → the sandbox's 商家转账
waits for the member → the member confirms with the package → WeChat notifies three times at once
→ withdrawn once, the ledger matching every balance.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from campaigns.models import Commission, Distributor, Withdrawal
from campaigns.services.settlement import commission_balances_reconcile, commissions_settle_due
from payments.models import Transfer
from shop.models import Order
from tests.celery_worker import celery_eager
from tests.factories import SkuFactory, default_freight
from tests.flows.support_story import Phone, console_post, operator_session
from wechat.sandbox.client import SandboxControl

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.flow]


def logged_in(mall: Any, sandbox: SandboxControl, openid: str) -> Phone:
    phone = Phone(mall.url)
    login = phone.call("POST", "/auth/wechat/login", json={"code": sandbox.login_code(openid)["code"]})
    phone.http.headers["Authorization"] = f"Bearer {login['token']}"
    return phone


def scan_poster(phone: Phone, sandbox: SandboxControl, poster_png: bytes) -> dict[str, Any]:
    """The phone's camera reads the poster's code; the page it opens posts the scene once logged in."""
    seen = sandbox.scan_wxacode(poster_png)
    binding: dict[str, Any] = phone.call("POST", "/distribution/bind", 201,
                                         json={"scene": seen["scene"], "share_type": "poster"})
    return binding


def approved_in_console(ops: Any, mall: Any, phone: Phone, name: str) -> int:
    phone.call("POST", "/distribution/apply", 201, json={"real_name": name, "phone": "13900139000",
                                                         "reason": "宝妈社群团长"})
    pk = Distributor.objects.get(real_name=name).pk
    done = console_post(ops, f"{mall.url}/admin/campaigns/distributor/{pk}/approve/")
    assert "已审核通过" in done.text
    assert phone.call("GET", "/distribution/me")["status"] == "active"
    return pk


def test_apply_share_bind_buy_settle_withdraw_and_get_paid(mall, sandbox, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    default_freight()
    sku = SkuFactory.create(product__name="有机米粉", price_fen=12345, stock=10)
    ops = operator_session(mall.url)

    # two distributors, the second under the first (arrived through the first's poster)
    top = logged_in(mall, sandbox, "o-top-distributor")
    top_id = approved_in_console(ops, mall, top, "王大团")
    near = logged_in(mall, sandbox, "o-near-distributor")
    scan_poster(near, sandbox, top.http.get(top.base + "/distribution/poster.png", timeout=30).content)
    near_id = approved_in_console(ops, mall, near, "李小团")

    # a new member scans the near distributor's poster and is bound under them
    buyer = logged_in(mall, sandbox, "o-new-buyer")
    poster = near.http.get(near.base + "/distribution/poster.png", timeout=30)
    assert poster.headers["Content-Type"] == "image/png"
    binding = scan_poster(buyer, sandbox, poster.content)
    assert binding["distributor_id"] == near_id

    # they buy 2 × ¥123.45 and pay through the sandbox: ¥246.90 paid, commission pending
    buyer.call("POST", "/addresses/", 201, json={"receiver_name": "赵敏", "phone": "13800000003",
                                                 "province": "浙江省", "city": "杭州市", "district": "西湖区",
                                                 "detail": "文三路 1 号"})
    order = buyer.call("POST", "/orders/", 201, json={"items": [{"sku_id": sku.pk, "quantity": 2}]})
    paid = sandbox.request_payment(buyer.call("POST", f"/orders/{order['order_no']}/pay"))
    assert paid["deliveries"][0]["acknowledged"] is True
    # level 1: 10% of 24,690 = 2,469; level 2: 5% = 1,234.5 → 1,235 (half up)
    records = near.call("GET", "/distribution/commissions")["results"]
    assert [(r["level"], r["base_fen"], r["amount_fen"], r["status"]) for r in records] == [
        (1, 24690, 2469, "pending")]
    assert [(r["level"], r["amount_fen"]) for r in top.call("GET", "/distribution/commissions")["results"]] == [
        (2, 1235)]
    assert near.call("GET", "/distribution/me")["money"]["pending_fen"] == 2469

    # shipped from the console, received by the buyer: frozen until the after-sales window closes
    order_pk = Order.objects.get(order_no=order["order_no"]).pk
    shipped = console_post(ops, f"{mall.url}/admin/shop/order/{order_pk}/ship/",
                           {"carrier": "顺丰速运", "tracking_no": "SF5555555555"})
    assert "已发货" in shipped.text
    buyer.call("POST", f"/orders/{order['order_no']}/confirm-receipt")
    assert near.call("GET", "/distribution/me")["money"]["frozen_fen"] == 2469

    # the window passes: the settlement job makes it available
    commissions_settle_due(now=timezone.now() + dt.timedelta(days=8))
    centre = near.call("GET", "/distribution/me")
    assert (centre["money"]["available_fen"], centre["earned_total_fen"]) == (2469, 2469)

    # withdraw it all; the operator approves and pays in the console; WeChat waits for the member
    withdrawal = near.call("POST", "/distribution/withdrawals", 201, json={"amount_fen": 2469},
                           headers={"Idempotency-Key": "withdraw-1"})
    no = withdrawal["withdrawal_no"]
    pk = Withdrawal.objects.get(withdrawal_no=no).pk
    with celery_eager():
        console_post(ops, f"{mall.url}/admin/campaigns/withdrawal/{pk}/approve/")
        paying = console_post(ops, f"{mall.url}/admin/campaigns/withdrawal/{pk}/pay/")
    assert "已发起打款" in paying.text
    out_bill_no = Withdrawal.objects.get(pk=pk).transfer_reference
    assert sandbox.transfer(out_bill_no)["state"] == "WAIT_USER_CONFIRM"
    assert near.call("GET", f"/distribution/withdrawals/{no}")["status"] == "paying"

    # the member confirms receipt in wx.requestMerchantTransfer; WeChat notifies three times at once
    params = near.call("GET", f"/distribution/withdrawals/{no}/confirm")
    confirmed = sandbox.confirm_transfer(out_bill_no, package=params["package"], times=3, concurrent=True)
    assert [d["acknowledged"] for d in confirmed["deliveries"]] == [True, True, True]

    # withdrawn once: the money, the record, the commission and the ledger agree
    assert near.call("GET", f"/distribution/withdrawals/{no}")["status"] == "paid"
    money = near.call("GET", "/distribution/me")["money"]
    assert (money["available_fen"], money["withdrawing_fen"], money["withdrawn_fen"]) == (0, 0, 2469)
    assert Transfer.objects.get(out_bill_no=out_bill_no).state == "succeeded"
    assert Commission.objects.get(distributor_id=near_id).status == "withdrawn"
    assert Commission.objects.get(distributor_id=top_id).status == "available"
    assert list(Withdrawal.objects.get(pk=pk).events.values_list("action", flat=True)) == [
        "requested", "approved", "paying", "paid"]
    assert commission_balances_reconcile() == []
