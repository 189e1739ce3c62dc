"""The refund story over HTTP against the live mall, the WeChat sandbox and a real Celery worker:

buy three different lines with a coupon-like discount allocated to them → pay → shipped in two
packages → ask to return one line (with a photo) → the operator approves in the console → the
shopper sends it back with a tracking number → the operator confirms the goods are back →
the worker sends the refund to WeChat (mutual TLS) → the sandbox refunds and notifies →
exactly that line's payable amount is refunded, the order shows 部分退款, stock is back for
that line only.
"""

from __future__ import annotations

import io
import re
import time

import pytest
from PIL import Image

from catalog.models import Stock
from shop.models import AfterSale, Order, Refund, RefundStatus
from tests.builders import order_discount
from tests.celery_worker import real_worker
from tests.factories import CategoryFactory, SkuFactory, default_freight
from tests.flows.support_story import Phone, console_post, operator_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.flow]


def wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_return_one_of_three_lines_and_get_exactly_its_share_back(mall, sandbox, monkeypatch):


    # given three different products and a ¥25 coupon-like discount on the order
    default_freight()
    category = CategoryFactory.create(name="家居")
    towel = SkuFactory.create(product__category=category, product__name="纯棉毛巾", price_fen=3990, stock=10)
    mug = SkuFactory.create(product__category=category, product__name="陶瓷马克杯", price_fen=5900, stock=10)
    lamp = SkuFactory.create(product__category=category, product__name="护眼台灯", price_fen=12900, stock=10)
    order_discount(monkeypatch, 2500, label="满200减25")
    phone = Phone(mall.url)
    login = phone.call("POST", "/auth/wechat/login", json={"code": sandbox.login_code()["code"]})
    phone.http.headers["Authorization"] = f"Bearer {login['token']}"
    phone.call("POST", "/addresses/", 201, json={
        "receiver_name": "陈静", "phone": "13800000002", "province": "上海市", "city": "上海市",
        "district": "徐汇区", "detail": "漕溪北路 1 号"})

    # buy them and pay
    order = phone.call("POST", "/orders/", 201, json={"items": [
        {"sku_id": towel.pk, "quantity": 2}, {"sku_id": mug.pk, "quantity": 1}, {"sku_id": lamp.pk, "quantity": 1}]})
    lines = {line["product_name"]: line for line in order["lines"]}
    assert order["discount_fen"] == 2500
    assert lines["陶瓷马克杯"]["payable_fen"] != lines["陶瓷马克杯"]["goods_total_fen"]
    assert sum(line["payable_fen"] for line in lines.values()) == 2 * 3990 + 5900 + 12900 - 2500
    paid = sandbox.request_payment(phone.call("POST", f"/orders/{order['order_no']}/pay"))
    assert paid["deliveries"][0]["acknowledged"] is True
    db_order = Order.objects.get(order_no=order["order_no"])

    # the operator ships it in two packages from the console
    ops = operator_session(mall.url)
    towel_id, mug_id, lamp_id = (lines[name]["id"] for name in ("纯棉毛巾", "陶瓷马克杯", "护眼台灯"))
    shipped = console_post(ops, f"{mall.url}/admin/shop/order/{db_order.pk}/ship/?packages=2", {
        "carrier": "SF", "tracking_no": "SF1111111111", f"qty_1_{towel_id}": 2, f"qty_1_{mug_id}": 1,
        "carrier_2": "ZTO", "tracking_no_2": "ZT2222222222", f"qty_2_{lamp_id}": 1})
    assert "已发货（本次 2 个包裹）" in shipped.text, re.findall(r"errorlist.{0,300}", shipped.text)
    assert phone.call("GET", f"/orders/{order['order_no']}/")["status"] == "shipped"
    assert db_order.shipments.count() == 2
    stock_before = {sku.pk: Stock.objects.get(sku=sku).available for sku in (towel, mug, lamp)}
    assert stock_before == {towel.pk: 8, mug.pk: 9, lamp.pk: 9}

    # the shopper asks to return the mug, with a photo
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(photo, "JPEG")
    uploaded = phone.http.post(f"{phone.base}/uploads/after-sale-photos", files={"file": ("crack.jpg",
                               photo.getvalue(), "image/jpeg")}, timeout=30)
    assert uploaded.status_code == 201, uploaded.text
    after_sale = phone.call("POST", "/after-sales/", 201, json={
        "order_no": order["order_no"], "kind": "return_refund", "reason": "damaged", "description": "杯口有裂纹",
        "lines": [{"order_line_id": lines["陶瓷马克杯"]["id"], "quantity": 1}],
        "photo_ids": [uploaded.json()["id"]]}, headers={"Idempotency-Key": "return-mug"})
    assert after_sale["amount_fen"] == lines["陶瓷马克杯"]["payable_fen"]
    no = after_sale["after_sale_no"]

    with real_worker():
        # the operator approves in the console; the shopper sends the mug back
        pk = AfterSale.objects.get(after_sale_no=no).pk
        approved = console_post(ops, f"{mall.url}/admin/shop/aftersale/{pk}/approve/")
        assert "等待买家寄回商品" in approved.text
        phone.call("POST", f"/after-sales/{no}/return-shipment",
                   json={"carrier": "顺丰速运", "tracking_no": "SF9999999999"})

        # the goods are back: the operator confirms; the worker sends the refund to WeChat
        confirmed = console_post(ops, f"{mall.url}/admin/shop/aftersale/{pk}/confirm-return/", {"restock": "on"})
        assert "退款" in confirmed.text
        wait_for(lambda: Refund.objects.filter(out_refund_no=no, status=RefundStatus.PROCESSING).exists(),
                 "the worker to submit the refund")

    # WeChat refunds and notifies the mall
    settled = sandbox.settle_refund(no)
    assert [d["acknowledged"] for d in settled["deliveries"]] == [True]

    # exactly the mug's share came back; the order shows 部分退款; stock is back for the mug only
    shown = phone.call("GET", f"/after-sales/{no}/")
    assert shown["status"] == "refunded" and shown["refund"]["status"] == "succeeded"
    assert shown["refund"]["amount_fen"] == lines["陶瓷马克杯"]["payable_fen"]
    assert shown["order_refund_state_label"] == "部分退款"
    db_order.refresh_from_db()
    assert db_order.refunded_fen == lines["陶瓷马克杯"]["payable_fen"]
    assert db_order.get_refund_state_display() == "部分退款"
    assert sandbox.refund(no)["refund_fee"] == lines["陶瓷马克杯"]["payable_fen"]
    assert {sku.pk: Stock.objects.get(sku=sku).available for sku in (towel, mug, lamp)} == {
        towel.pk: 8, mug.pk: 10, lamp.pk: 9}
    assert [p["label"] for p in shown["progress"]] == [
        "提交申请", "审核通过", "已寄回商品", "商家已收到退货", "退款处理中", "退款成功"]
