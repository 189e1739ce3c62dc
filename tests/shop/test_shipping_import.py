"""Bulk shipping from a file (批量导入发货): parsing, the dry-run preview, the failed-row report,
and the confirmation that ships each valid row through the service."""

from __future__ import annotations

import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from shop.admin.shipping_import import read_rows
from shop.models import Order, OrderEvent, OrderStatus, Shipment
from shop.services.orders import order_cancel
from shop.services.shipping import PackageInput, shipment_create
from shop.services.shipping_import import ImportRow, shipment_import_apply, shipment_import_preview
from tests.builders import lines_of, paid_order, placed_order
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db

URL = "admin:shop_order_shipping_import"


def csv_file(text: str, name: str = "发货.csv", encoding: str = "utf-8-sig") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def hidden_value(html: str, name: str) -> str:
    """The value of the hidden input `name` on a console page."""
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match is not None, f"no {name} on the page"
    return match.group(1)


def xlsx_file(rows: list[list[object]]) -> SimpleUploadedFile:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile("发货.xlsx", buffer.getvalue())


@pytest.fixture
def orders(freight, sandbox):
    """Orders in every situation a file can name."""
    sku = SkuFactory.create(price_fen=1990, stock=50)
    paid = [paid_order(lines=[(sku, 1)], sandbox=sandbox) for _ in range(3)]
    unpaid = placed_order(lines=[(sku, 1)])
    cancelled = placed_order(lines=[(sku, 1)])
    order_cancel(order=cancelled, reason="测试", actor="member")
    shipped = paid_order(lines=[(sku, 1)], sandbox=sandbox)
    shipment_create(order=shipped, packages=[PackageInput("SF", "SF9999999999", None)])
    partly = paid_order(lines=[(sku, 2)], sandbox=sandbox)
    shipment_create(order=partly, packages=[PackageInput("SF", "SF8888888888", {lines_of(partly)[0].pk: 1})])
    return {"paid": paid, "unpaid": unpaid, "cancelled": cancelled, "shipped": shipped, "partly": partly}


def the_file(o) -> str:
    p1, p2, p3 = (x.order_no for x in o["paid"])
    return "\n".join([
        "订单号,快递公司,快递单号",
        f"{p1},顺丰速运,SF1000000001",
        f"{p2},zto,zt 2000 0000 02",
        "20990101999999,顺丰,SF1000000003",
        f"{o['unpaid'].order_no},顺丰,SF1000000004",
        f"{o['cancelled'].order_no},顺丰,SF1000000005",
        f"{o['shipped'].order_no},顺丰,SF1000000006",
        f"{p3},天天快运,TT1000000007",
        f"{p3},顺丰,12",
        f"{p1},圆通,YT1000000009",
        f"{p3},,",
        "",
        f"{o['partly'].order_no},韵达,YD1000000011",
    ])


EXPECTED = [
    (2, True, "发货 1 件"),
    (3, True, "发货 1 件"),
    (4, False, "订单不存在"),
    (5, False, "订单待付款，未支付不能发货"),
    (6, False, "订单已取消，未支付不能发货"),
    (7, False, "订单已发货"),
    (8, False, "未知的快递公司：天天快运"),
    (9, False, "快递单号格式不正确：12"),
    (10, False, "与第 2 行的订单重复"),
    (11, False, "缺少快递公司、快递单号"),
    (13, True, "发货 1 件（已部分发货，发剩余商品）"),
]


def test_reading_csv_in_utf8_or_gbk_and_xlsx_with_numeric_cells():
    text = "快递单号,订单号,快递公司\nSF1,20261123000001,顺丰\n,,\n"
    for encoding in ("utf-8-sig", "utf-8", "gbk"):
        assert read_rows(csv_file(text, encoding=encoding)) == [ImportRow(2, "20261123000001", "顺丰", "SF1")]
    rows = read_rows(xlsx_file([["订单编号", "物流公司", "运单号"], [20261123000001, "中通", 78123456789012.0],
                                [None, None, None], ["'20261123000002", "SF", "SF2"]]))
    assert rows == [ImportRow(2, "20261123000001", "中通", "78123456789012"),
                    ImportRow(4, "20261123000002", "SF", "SF2")]


@pytest.mark.parametrize("upload, message", [
    (lambda: csv_file("订单号,快递单号\n1,2\n"), "缺少列：快递公司"),
    (lambda: csv_file(""), "文件是空的"),
    (lambda: csv_file("订单号,快递公司,快递单号\n"), "没有数据行"),
    (lambda: SimpleUploadedFile("x.xlsx", b"not a zip"), "无法读取该 XLSX 文件"),
])
def test_unreadable_files_are_refused_with_a_reason(upload, message):
    with pytest.raises(ValidationError, match=message):
        read_rows(upload())


def test_the_preview_reports_every_row_and_changes_nothing(orders):
    before = (Shipment.objects.count(), OrderEvent.objects.count(),
              sorted(Order.objects.values_list("id", "status")))

    outcomes = shipment_import_preview(rows=read_rows(csv_file(the_file(orders))))

    assert [(o.row.row_no, o.ok, o.message) for o in outcomes] == EXPECTED
    assert (outcomes[1].carrier, outcomes[1].tracking_no) == ("中通快递", "ZT2000000002")
    assert before == (Shipment.objects.count(), OrderEvent.objects.count(),
                      sorted(Order.objects.values_list("id", "status")))


def test_apply_ships_each_valid_row_in_its_own_transaction(orders):
    rows = read_rows(csv_file(the_file(orders)))
    valid = [o.row for o in shipment_import_preview(rows=rows) if o.ok]
    # between the preview and the confirmation, one order is shipped by hand
    p2 = orders["paid"][1]
    shipment_create(order=p2, packages=[PackageInput("SF", "SF7777777777", None)])

    outcomes = shipment_import_apply(rows=valid)

    assert [(o.row.row_no, o.ok, o.message) for o in outcomes] == [
        (2, True, "已发货 1 件"), (3, False, "订单已发货"), (13, True, "已发货 1 件")]
    p1 = Order.objects.get(pk=orders["paid"][0].pk)
    assert p1.status == OrderStatus.SHIPPED
    assert list(p1.shipments.values_list("carrier", "tracking_no")) == [("顺丰速运", "SF1000000001")]
    assert Order.objects.get(pk=orders["partly"].pk).status == OrderStatus.SHIPPED
    assert list(Order.objects.get(pk=p2.pk).shipments.values_list("tracking_no", flat=True)) == ["SF7777777777"]
    # confirming the same rows again ships nothing twice
    again = shipment_import_apply(rows=valid)
    assert [o.ok for o in again] == [False, False, False]
    assert Shipment.objects.filter(tracking_no="SF1000000001").count() == 1


def test_the_console_previews_then_confirms_and_reports_failed_rows(admin_client, admin_user, orders):
    page = admin_client.get(reverse("admin:shop_order_changelist")).content.decode()
    assert "批量导入发货" in page
    form = admin_client.get(reverse(URL)).content.decode()
    assert "订单号" in form and "快递公司" in form and "快递单号" in form and "预览" in form

    # upload: a preview, nothing shipped
    preview = admin_client.post(reverse(URL), {"file": csv_file(the_file(orders))}).content.decode()
    assert "共 11 行" in preview
    assert "可发货 <strong>3</strong> 行" in preview and "失败 <strong>8</strong> 行" in preview
    for _, _, message in EXPECTED:
        assert message in preview
    assert "确认发货（3 个订单）" in preview
    assert "<td>张三</td>" in preview  # 收货人, so the operator sees which order a row names
    assert not Shipment.objects.filter(tracking_no="SF1000000001").exists()
    token = hidden_value(preview, "rows")

    # the failed rows as a CSV to fix and import again
    failed_token = hidden_value(preview, "failed_report")
    report = admin_client.post(reverse(URL), {"failed_report": failed_token})
    assert report["Content-Type"].startswith("text/csv")
    report_lines = report.content.decode("utf-8-sig").splitlines()
    assert report_lines[0] == "行号,订单号,快递公司,快递单号,失败原因"
    assert len(report_lines) == 9 and report_lines[1].endswith(",订单不存在")

    # a token edited in the page is refused
    tampered = admin_client.post(reverse(URL), {"confirm": "1", "rows": token[:-2] + "xx"}, follow=True)
    assert "预览已过期或内容被修改" in tampered.content.decode()

    # confirm: each valid row shipped by the operator
    done = admin_client.post(reverse(URL), {"confirm": "1", "rows": token}).content.decode()
    assert "已发货 3 个订单" in done and "导入结果" in done
    p1 = Order.objects.get(pk=orders["paid"][0].pk)
    assert p1.status == OrderStatus.SHIPPED
    event = OrderEvent.objects.filter(order=p1).latest("id")
    assert (event.action, event.operator) == ("shipped", admin_user)


def test_the_console_refuses_files_it_cannot_read(admin_client):
    response = admin_client.post(reverse(URL), {"file": SimpleUploadedFile("a.txt", b"x")})
    assert "仅支持 CSV 或 XLSX 文件" in response.content.decode()
    response = admin_client.post(reverse(URL), {"file": csv_file("订单,运费\n1,2\n")})
    assert "缺少列：订单号、快递公司、快递单号" in response.content.decode()


def test_operators_without_the_change_permission_cannot_import(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x-long-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)

    assert client.get(reverse(URL)).status_code == 403
    assert "批量导入发货" not in client.get(reverse("admin:shop_order_changelist")).content.decode()
