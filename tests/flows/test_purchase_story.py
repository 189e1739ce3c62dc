"""The foundation story over HTTP against the live mall and the WeChat sandbox:

log in → browse → add to cart → preview → place → pay (the sandbox sends the signed notify) →
paid → ship (the operator, in the admin) → confirm receipt.
"""

from __future__ import annotations

import re

import pytest

from catalog.models import Stock
from members.models import Address
from shop.models import Order, OrderEvent
from tests.factories import CategoryFactory, SkuFactory, default_freight
from tests.flows.support_story import Phone, csrf_token, operator_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.flow]


def test_login_browse_buy_pay_ship_receive(mall, sandbox):
    # given a catalog: a ¥39.90 T-shirt in two sizes and a ¥15.50 pair of socks
    default_freight()
    category = CategoryFactory.create(name="服饰")
    shirt_m = SkuFactory.create(product__category=category, product__name="纯棉短袖T恤", code="TS-M",
                                specs={"尺码": "M"}, price_fen=3990, stock=20)
    SkuFactory.create(product=shirt_m.product, code="TS-L", specs={"尺码": "L"}, price_fen=3990, stock=20)
    socks = SkuFactory.create(product__category=category, product__name="运动袜", code="SK-1", price_fen=1550,
                              stock=50)
    phone = Phone(mall.url)

    # log in with a wx.login() code
    login = phone.call("POST", "/auth/wechat/login", json={"code": sandbox.login_code()["code"]})
    phone.http.headers["Authorization"] = f"Bearer {login['token']}"
    phone.call("POST", "/addresses/", 201, json={
        "receiver_name": "王小明", "phone": "13800000001", "province": "江苏省", "city": "南京市",
        "district": "鼓楼区", "detail": "中山路 1 号"})

    # browse: categories, the list, a product's SKUs by spec
    assert [c["name"] for c in phone.call("GET", "/categories/")] == ["服饰"]
    listing = phone.call("GET", f"/products/?category={category.pk}&ordering=price")
    assert [p["name"] for p in listing["results"]] == ["运动袜", "纯棉短袖T恤"]
    detail = phone.call("GET", f"/products/{shirt_m.product_id}/")
    assert detail["spec_options"] == {"尺码": ["M", "L"]}
    size_m = next(s for s in detail["skus"] if s["specs"] == {"尺码": "M"})

    # add to cart, preview
    phone.call("POST", "/cart/items/", 201, json={"sku_id": size_m["id"], "quantity": 2})
    phone.call("POST", "/cart/items/", 201, json={"sku_id": socks.pk, "quantity": 1})
    preview = phone.call("POST", "/checkout/preview", json={})
    assert preview["goods_total_fen"] == 2 * 3990 + 1550
    assert preview["freight_fen"] == 1000 + 2 * 500  # 3 pieces, under the ¥99 threshold
    assert preview["payable_fen"] == 9530 + 2000

    # place the order from the cart, with an idempotency key and the amount we were shown
    order = phone.call("POST", "/orders/", 201, json={"expected_payable_fen": preview["payable_fen"]},
                       headers={"Idempotency-Key": "story-1"})
    lines_total = sum(line["payable_fen"] for line in order["lines"])
    assert order["payable_fen"] == lines_total + order["freight_fen"] - 0 == preview["payable_fen"]
    assert order["payable_fen"] == order["goods_total_fen"] + order["freight_fen"] - order["discount_fen"]
    assert phone.call("GET", "/cart/items/")["items"] == []
    assert Stock.objects.get(sku=shirt_m).available == 18

    # pay: our server returns wx.requestPayment params; the sandbox pays and notifies us
    params = phone.call("POST", f"/orders/{order['order_no']}/pay")
    paid = sandbox.request_payment(params)
    assert paid["deliveries"][0]["acknowledged"] is True
    assert phone.call("GET", f"/orders/{order['order_no']}/")["status"] == "paid"

    # ship from the admin, as an operator does
    ops = operator_session(mall.url)
    order_pk = Order.objects.get(order_no=order["order_no"]).pk
    form = ops.get(f"{mall.url}/admin/shop/order/{order_pk}/ship/", timeout=30)
    assert form.status_code == 200 and "发货" in form.text
    shipped = ops.post(f"{mall.url}/admin/shop/order/{order_pk}/ship/", timeout=30, data={
        "csrfmiddlewaretoken": csrf_token(form.text), "carrier": "顺丰速运", "tracking_no": "SF1234567890"})
    assert shipped.status_code == 200 and "已发货" in shipped.text, re.findall(r"errorlist.{0,200}", shipped.text)
    shown = phone.call("GET", f"/orders/{order['order_no']}/")
    assert shown["status"] == "shipped"
    assert shown["shipments"][0]["tracking_no"] == "SF1234567890"

    # confirm receipt
    received = phone.call("POST", f"/orders/{order['order_no']}/confirm-receipt")
    assert received["status"] == "received"
    assert received["paid_fen"] == received["payable_fen"] == 11530
    actions = list(OrderEvent.objects.filter(order_id=order_pk).values_list("action", flat=True))
    assert actions == ["placed", "paid", "shipped", "received"]
    assert Address.objects.count() == 1
