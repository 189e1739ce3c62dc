"""The console's 发货 page with packages, and what the order page and list show about shipping."""

from __future__ import annotations

import pytest
from django.urls import reverse

from shop.models import Order, OrderStatus, Shipment, ShippingInfoUpload, ShippingUploadState
from shop.services.shipping import PackageInput, shipment_create
from tests.builders import lines_of, paid_order
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(freight, sandbox):
    """Paid: 2 × 有机奶粉 1段, 1 × 婴儿湿巾, 3 × 棉柔巾."""
    skus = [SkuFactory.create(product__name="有机奶粉", specs={"段位": "1段"}, stock=9),
            SkuFactory.create(product__name="婴儿湿巾", specs={}, stock=9),
            SkuFactory.create(product__name="棉柔巾", specs={}, stock=9)]
    return paid_order(lines=[(skus[0], 2), (skus[1], 1), (skus[2], 3)], sandbox=sandbox)


def ship_url(order, packages: int | None = None) -> str:
    url = reverse("admin:shop_order_ship", args=[order.pk])
    return f"{url}?packages={packages}" if packages else url


def test_the_form_lists_lines_with_what_is_left_and_a_column_per_package(admin_client, order):
    html = admin_client.get(ship_url(order)).content.decode()

    assert "本次发货" in html and "包裹 1" in html and "包裹 2" not in html
    assert "有机奶粉" in html and "1段" in html and "棉柔巾" in html
    assert "顺丰速运" in html and "极兔速递" in html and 'value="SF"' in html
    a, b, c = lines_of(order)
    assert f'name="qty_1_{a.pk}" value="2"' in html and f'name="qty_1_{c.pk}" value="3"' in html
    assert "再分一个包裹" in html

    two = admin_client.get(ship_url(order, 2)).content.decode()
    assert "包裹 2" in two and f'name="qty_2_{a.pk}" value="0"' in two and 'name="tracking_no_2"' in two


def test_two_packages_in_one_submission_ship_the_order(admin_client, admin_user, order):
    a, b, c = lines_of(order)
    data = {"packages": "2", "carrier": "SF", "tracking_no": "sf1000000001", "carrier_2": "ZTO",
            "tracking_no_2": "ZT2000000002",
            f"qty_1_{a.pk}": "2", f"qty_1_{b.pk}": "0", f"qty_1_{c.pk}": "1",
            f"qty_2_{a.pk}": "0", f"qty_2_{b.pk}": "1", f"qty_2_{c.pk}": "2"}

    response = admin_client.post(ship_url(order), data, follow=True)

    html = response.content.decode()
    assert f"订单 {order.order_no} 已发货（本次 2 个包裹）" in html
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    shipments = list(Shipment.objects.filter(order=order).order_by("id"))
    assert [(s.carrier, s.tracking_no, s.operator) for s in shipments] == [
        ("顺丰速运", "SF1000000001", admin_user), ("中通快递", "ZT2000000002", admin_user)]
    assert [line.shipped_quantity for line in lines_of(order)] == [2, 1, 3]
    # the order page: packages with their contents, progress, the upload state, the audit trail
    assert "发货包裹" in html and "有机奶粉 1段 × 2；棉柔巾 × 1" in html
    assert "婴儿湿巾 × 1；棉柔巾 × 2" in html
    assert "已发 6 / 6 件，共 2 个包裹" in html
    assert "待上传" in html and "部分发货" in html and "待发货 → 已发货" in html


def test_a_partial_shipment_leaves_the_rest_for_later(admin_client, order):
    a, b, c = lines_of(order)

    response = admin_client.post(ship_url(order), {
        "packages": "1", "carrier": "顺丰速运", "tracking_no": "SF1000000001",
        f"qty_1_{a.pk}": "1", f"qty_1_{b.pk}": "0", f"qty_1_{c.pk}": "0"}, follow=True)

    html = response.content.decode()
    assert f"订单 {order.order_no} 已部分发货：本次 1 个包裹，还有 5 件待发" in html
    assert "待发货（部分发货）" in html and "已发 1 / 6 件，共 1 个包裹" in html
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    listing = admin_client.get(reverse("admin:shop_order_changelist")).content.decode()
    assert "待发货（部分发货）" in listing

    # the form now starts from what is left, and shows the package already out
    again = admin_client.get(ship_url(order)).content.decode()
    assert "已发包裹" in again and "SF1000000001" in again
    assert f'name="qty_1_{a.pk}" value="1"' in again and f'name="qty_1_{c.pk}" value="3"' in again


def test_more_than_is_left_or_an_incomplete_package_is_refused_with_reasons(admin_client, order):
    a, b, c = lines_of(order)
    data = {"packages": "2", "carrier": "SF", "tracking_no": "SF1000000001", "carrier_2": "", "tracking_no_2": "",
            f"qty_1_{a.pk}": "2", f"qty_1_{b.pk}": "1", f"qty_1_{c.pk}": "3",
            f"qty_2_{a.pk}": "1", f"qty_2_{b.pk}": "0", f"qty_2_{c.pk}": "0"}

    html = admin_client.post(ship_url(order), data).content.decode()

    assert "「有机奶粉」各包裹合计 3 件，超过待发的 2 件" in html
    assert "请选择快递公司" in html and "请填写快递单号" in html
    assert not Shipment.objects.filter(order=order).exists()

    html = admin_client.post(ship_url(order), {**data, f"qty_1_{a.pk}": "5"}).content.decode()
    assert "确保该值小于或等于2" in html
    html = admin_client.post(ship_url(order), {"packages": "1", "carrier": "SF", "tracking_no": "SF1000000001",
                                               f"qty_1_{a.pk}": "0", f"qty_1_{b.pk}": "0",
                                               f"qty_1_{c.pk}": "0"}).content.decode()
    assert "包裹 1 没有商品，请填写发货数量" in html
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_a_blank_extra_package_is_ignored(admin_client, order):
    a, b, c = lines_of(order)
    data = {"packages": "2", "carrier": "SF", "tracking_no": "SF1000000001", "carrier_2": "", "tracking_no_2": "",
            f"qty_1_{a.pk}": "2", f"qty_1_{b.pk}": "1", f"qty_1_{c.pk}": "3",
            f"qty_2_{a.pk}": "0", f"qty_2_{b.pk}": "0", f"qty_2_{c.pk}": "0"}

    admin_client.post(ship_url(order), data)

    assert Shipment.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def test_the_list_shows_the_upload_state_with_a_filter(admin_client, order, sandbox):
    shipment_create(order=order, packages=[PackageInput("SF", "SF1000000001", None)])
    ShippingInfoUpload.objects.filter(order=order).update(state=ShippingUploadState.FAILED, last_error="[-1] x")
    url = reverse("admin:shop_order_changelist")

    html = admin_client.get(url).content.decode()
    assert "微信发货" in html and "上传失败" in html and "无需上传" in html

    assert order.order_no in admin_client.get(url, {"shipping_upload": "failed"}).content.decode()
    assert order.order_no not in admin_client.get(url, {"shipping_upload": "uploaded"}).content.decode()
    assert order.order_no not in admin_client.get(url, {"shipping_upload": "none"}).content.decode()
