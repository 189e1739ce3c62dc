"""The after-sales console in Chinese: list, detail (lines, photos, audit trail), 同意 / 拒绝 /
确认收到退货 through the services, maker-checker in the browser, refunds with 重试."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from shop.models import AfterSale, AfterSaleStatus, Refund, RefundStatus
from shop.services.aftersales import after_sale_photo_upload
from tests.builders import lines_of, operator, paid_order, requested_after_sale, ship
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m) for m in re.findall(r'<li class="(?:success|error|warning)">(.*?)</li>',
                                                         response.content.decode())]


@pytest.fixture
def buyer(db):
    default_freight()
    return make_shopper(nickname="李小花")


@pytest.fixture
def request_with_photo(buyer, sandbox):
    scarf = SkuFactory.create(price_fen=12900, stock=5, product__name="羊绒围巾")
    order = paid_order(member=buyer.member, lines=[(scarf, 2)], sandbox=sandbox)
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 200)).save(buffer, "JPEG")
    photo = after_sale_photo_upload(member=buyer.member,
                                    upload=SimpleUploadedFile("a.jpg", buffer.getvalue(), "image/jpeg"))
    return requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, reason="damaged",
                                description="收到时有破洞", photo_ids=[photo.pk])


def test_the_list_and_detail_are_in_chinese_with_lines_photos_and_trail(request_with_photo):
    ops = login(operator("ops"))
    after_sale = request_with_photo

    listing = html(ops.get(reverse("admin:shop_aftersale_changelist")))
    assert "售后单" in listing and after_sale.after_sale_no in listing
    assert "待审核" in listing and "仅退款" in listing and "¥129.00" in listing and "羊绒围巾 ×1" in listing

    detail = html(ops.get(reverse("admin:shop_aftersale_change", args=[after_sale.pk])))
    for text in ("售后商品", "凭证图片", "处理记录", "提交申请", "商品破损", "收到时有破洞", "同意", "拒绝",
                 "该商品实付", "¥258.00", "未发货退款：同意后立即退回库存", "一位运营审核即可"):
        assert text in detail, text
    assert 'class="mall-preview"' in detail and "/private-media/aftersales/" in detail
    assert "确认收到退货" not in detail
    # The evidence link the console renders is signed: it opens for the operator, and only signed.
    found = re.search(r'href="(/private-media/aftersales/[^"]+)"', detail)
    assert found is not None
    link = unescape(found.group(1))
    assert ops.get(link).status_code == 200
    assert ops.get(link.split("?")[0]).status_code == 404


def test_filters_by_status_and_search_by_order_number(request_with_photo, buyer):
    ops = login(operator("ops"))
    url = reverse("admin:shop_aftersale_changelist")
    assert request_with_photo.after_sale_no in html(ops.get(url, {"status__exact": "requested"}))
    assert request_with_photo.after_sale_no not in html(ops.get(url, {"status__exact": "refunded"}))
    assert request_with_photo.after_sale_no in html(ops.get(url, {"q": request_with_photo.order.order_no}))


def test_approve_from_the_console_starts_the_refund(request_with_photo):
    ops = login(operator("ops"))
    url = reverse("admin:shop_aftersale_approve", args=[request_with_photo.pk])

    assert "确认同意" in html(ops.get(url))
    response = ops.post(url, follow=True)

    assert any("已同意" in m for m in messages_of(response)), messages_of(response)
    after_sale = AfterSale.objects.get(pk=request_with_photo.pk)
    assert after_sale.status == AfterSaleStatus.REFUNDING
    assert after_sale.approved_by is not None and after_sale.approved_by.username == "ops"
    assert Refund.objects.filter(after_sale=after_sale).count() == 1


def test_maker_checker_in_the_console(request_with_photo, settings):
    settings.REFUND_SECOND_APPROVAL_ABOVE_FEN = 10000  # ¥100: the ¥129 request needs two operators
    maker, checker = operator("maker"), operator("checker")
    url = reverse("admin:shop_aftersale_approve", args=[request_with_photo.pk])
    change = reverse("admin:shop_aftersale_change", args=[request_with_photo.pk])

    first = login(maker).post(url, follow=True)
    assert any("需另一位运营复核" in m for m in messages_of(first))
    page = html(login(maker).get(change))
    assert "需另一位运营复核" in page and "复核通过" not in page
    again = login(maker).post(url, follow=True)
    assert any("另一位运营复核" in m for m in messages_of(again))
    assert AfterSale.objects.get(pk=request_with_photo.pk).status == AfterSaleStatus.AWAITING_SECOND_APPROVAL

    assert "复核通过" in html(login(checker).get(change))
    login(checker).post(url, follow=True)

    after_sale = AfterSale.objects.get(pk=request_with_photo.pk)
    assert after_sale.status == AfterSaleStatus.REFUNDING
    trail = html(login(checker).get(change))
    assert "初审通过，待复核" in trail and "maker" in trail and "checker" in trail


def test_reject_asks_for_a_reason(request_with_photo):
    ops = login(operator("ops"))
    url = reverse("admin:shop_aftersale_reject", args=[request_with_photo.pk])

    empty = ops.post(url, {"reason": ""})
    assert empty.status_code == 200 and "该字段是必填项" in empty.content.decode()
    ops.post(url, {"reason": "图片显示商品完好"}, follow=True)

    after_sale = AfterSale.objects.get(pk=request_with_photo.pk)
    assert (after_sale.status, after_sale.reject_reason) == (AfterSaleStatus.REJECTED, "图片显示商品完好")


def test_confirm_return_from_the_console(buyer, sandbox):
    sku = SkuFactory.create(price_fen=5000, stock=5)
    order = ship(paid_order(member=buyer.member, lines=[(sku, 1)], sandbox=sandbox))
    after_sale = requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, kind="return_refund")
    ops = login(operator("ops"))
    ops.post(reverse("admin:shop_aftersale_approve", args=[after_sale.pk]))
    assert "确认收到退货" in html(ops.get(reverse("admin:shop_aftersale_change", args=[after_sale.pk])))

    ops.post(reverse("admin:shop_aftersale_confirm_return", args=[after_sale.pk]), {"restock": "on"}, follow=True)

    after_sale.refresh_from_db()
    assert after_sale.status == AfterSaleStatus.REFUNDING and after_sale.restock is True


def test_operators_without_the_permission_cannot_decide(request_with_photo):
    viewer = get_user_model().objects.create_user("viewer", password="a-long-password-1", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_aftersale"))
    client = login(viewer)
    page = html(client.get(reverse("admin:shop_aftersale_change", args=[request_with_photo.pk])))
    assert "shop_aftersale_approve" not in page and "/approve/" not in page
    assert client.post(reverse("admin:shop_aftersale_approve", args=[request_with_photo.pk])).status_code == 403
    assert AfterSale.objects.get(pk=request_with_photo.pk).status == AfterSaleStatus.REQUESTED


def test_failed_refunds_are_filtered_and_retried_from_the_console(request_with_photo):
    ops_user = operator("ops")
    ops = login(ops_user)
    ops.post(reverse("admin:shop_aftersale_approve", args=[request_with_photo.pk]))
    refund = Refund.objects.get(after_sale=request_with_photo)
    Refund.objects.filter(pk=refund.pk).update(status=RefundStatus.FAILED, last_error="NOTENOUGH：基本账户余额不足")

    listing = html(ops.get(reverse("admin:shop_refund_changelist"), {"status__exact": "failed"}))
    assert refund.out_refund_no in listing and "退款失败" in listing and "NOTENOUGH" in listing
    detail = html(ops.get(reverse("admin:shop_refund_change", args=[refund.pk])))
    assert "重试" in detail and "退款日志" in detail

    response = ops.post(reverse("admin:shop_refund_changelist"),
                        {"action": "retry_selected", "_selected_action": [refund.pk]}, follow=True)

    assert any("已重新发起 1 笔退款" in m for m in messages_of(response)), messages_of(response)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.PENDING


def test_the_list_query_count_does_not_grow(buyer, sandbox, django_assert_max_num_queries):
    order = paid_order(member=buyer.member, lines=[(SkuFactory.create(price_fen=1000, stock=30), 20)], sandbox=sandbox)
    for _ in range(10):
        requested_after_sale(order=order, lines={lines_of(order)[0]: 1})
    ops = login(operator("ops"))
    with django_assert_max_num_queries(12):
        html(ops.get(reverse("admin:shop_aftersale_changelist")))
