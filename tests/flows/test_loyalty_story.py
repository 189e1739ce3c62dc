"""The loyalty story over HTTP against the live mall and the WeChat sandbox:

log in → sign in (签到: points and growth) → claim a coupon → preview and place an order paying
part with points and the coupon → pay (the sandbox sends the signed notify) → the points and growth
the payment earned show in me/points and me/tier, and the tier rises → ask for a refund of one of
the two units → the operator approves it in the console → WeChat refunds and notifies → the points
and growth of the refunded half are taken back, the spent points of that half come back, and the
tier falls back.
"""

from __future__ import annotations

import pytest

from members.models import GrowthRule
from members.services import points_award
from shop.models import AfterSale, Refund, RefundStatus
from tests.celery_worker import celery_eager
from tests.factories import CategoryFactory, CouponTemplateFactory, SkuFactory, default_freight
from tests.flows.support_story import Phone, console_post, operator_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.flow]


def test_sign_in_buy_with_points_and_a_coupon_earn_then_refund_half_and_see_it_reversed(mall, sandbox):
    # given the migrated tiers (白银 from 1,000 growth) and rules, a ¥600 kettle, a 满100减10 coupon
    assert GrowthRule.objects.get(pk=1).per_yuan == 1
    default_freight()
    kettle = SkuFactory.create(product__category=CategoryFactory.create(name="厨房"), product__name="不锈钢电水壶",
                               price_fen=60000, stock=10)
    coupon_template = CouponTemplateFactory.create(name="满100减10")
    phone = Phone(mall.url)

    # log in; the member has 2,000 points from an earlier campaign
    login = phone.call("POST", "/auth/wechat/login", json={"code": sandbox.login_code()["code"]})
    phone.http.headers["Authorization"] = f"Bearer {login['token']}"
    member_id = phone.call("GET", "/me")["id"]
    points_award(member_id=member_id, points=2000, kind="campaign", reference="spring-campaign")
    phone.call("POST", "/addresses/", 201, json={
        "receiver_name": "李华", "phone": "13800000003", "province": "浙江省", "city": "杭州市",
        "district": "西湖区", "detail": "文三路 1 号"})

    # sign in: the first day's reward
    signed = phone.call("POST", "/me/signin", 201)
    assert (signed["streak"], signed["points"]) == (1, 5)
    signin_growth = signed["growth"]
    assert phone.call("GET", "/me/points")["balance"] == 2005
    start = phone.call("GET", "/me/tier")
    assert (start["growth"], start["tier"]["name"]) == (signin_growth, "普通会员")

    # claim the coupon; preview two kettles with 2,000 points (¥20) and the coupon (¥10)
    coupon = phone.call("POST", f"/coupons/center/{coupon_template.pk}/claim", 201,
                        headers={"Idempotency-Key": "claim-1"})
    body = {"items": [{"sku_id": kettle.pk, "quantity": 2}], "coupon_ids": [coupon["id"]], "points": 2000}
    preview = phone.call("POST", "/checkout/preview", json=body)
    assert preview["points"]["used"] == 2000 and preview["points"]["used_fen"] == 2000
    assert preview["coupons"]["selected_ids"] == [coupon["id"]]
    assert (preview["goods_total_fen"], preview["discount_fen"], preview["freight_fen"]) == (120000, 3000, 0)
    assert preview["payable_fen"] == 117000

    # place it and pay: WeChat's signed notify reaches the mall
    order = phone.call("POST", "/orders/", 201, json={**body, "expected_payable_fen": 117000},
                       headers={"Idempotency-Key": "order-1"})
    assert (order["points_used"], order["points_fen"], order["payable_fen"]) == (2000, 2000, 117000)
    assert phone.call("GET", "/me/points")["balance"] == 5
    paid = sandbox.request_payment(phone.call("POST", f"/orders/{order['order_no']}/pay"))
    assert [d["acknowledged"] for d in paid["deliveries"]] == [True]
    assert phone.call("GET", f"/orders/{order['order_no']}/")["status"] == "paid"

    # ¥1,170 paid: 1,170 points and 1,170 growth, and the member is now 白银
    assert phone.call("GET", "/me/points")["balance"] == 5 + 1170
    tier = phone.call("GET", "/me/tier")
    assert (tier["growth"], tier["tier"]["name"]) == (signin_growth + 1170, "白银会员")
    entries = phone.call("GET", "/me/points/entries")
    rows = entries["results"] if isinstance(entries, dict) else entries
    assert [(e["kind_label"], e["delta"]) for e in rows][:2] == [("购物", 1170), ("下单抵扣", -2000)]

    # ask for one kettle's refund before it ships; the operator approves it in the console
    line = order["lines"][0]
    with celery_eager():
        after_sale = phone.call("POST", "/after-sales/", 201, json={
            "order_no": order["order_no"], "kind": "refund_only", "reason": "ordered_by_mistake",
            "description": "买多了一个", "lines": [{"order_line_id": line["id"], "quantity": 1}]},
            headers={"Idempotency-Key": "refund-1"})
        assert after_sale["amount_fen"] == 58500
        # ¥585 is above the ¥500 second-approval line: a second operator approves too
        pk = AfterSale.objects.get(after_sale_no=after_sale["after_sale_no"]).pk
        first = console_post(operator_session(mall.url), f"{mall.url}/admin/shop/aftersale/{pk}/approve/")
        assert AfterSale.objects.get(pk=pk).status == "awaiting_second_approval", first.text[:200]
        console_post(operator_session(mall.url, "ops2"), f"{mall.url}/admin/shop/aftersale/{pk}/approve/")
    no = after_sale["after_sale_no"]
    assert Refund.objects.get(out_refund_no=no).status == RefundStatus.PROCESSING

    # WeChat refunds and notifies, twice
    settled = sandbox.settle_refund(no, times=2)
    assert [d["acknowledged"] for d in settled["deliveries"]] == [True, True]
    assert phone.call("GET", f"/after-sales/{no}/")["status"] == "refunded"

    # half the goods money came back: half the earned points and growth are taken back, half the
    # spent points are returned, and the tier falls back to 普通
    assert phone.call("GET", "/me/points")["balance"] == 5 + 1170 - 585 + 1000
    tier = phone.call("GET", "/me/tier")
    assert (tier["growth"], tier["tier"]["name"]) == (signin_growth + 585, "普通会员")
    entries = phone.call("GET", "/me/points/entries")
    rows = entries["results"] if isinstance(entries, dict) else entries
    assert sorted((e["kind_label"], e["delta"], e["reference"]) for e in rows[:2]) == sorted([
        ("订单退款扣回", -585, no), ("退款退回", 1000, no)])
    assert [(e["reason_display"], e["delta"]) for e in tier["recent"][:1]] == [("退款扣回", -585)]
