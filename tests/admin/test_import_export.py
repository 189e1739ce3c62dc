"""Catalog import keyed by SKU code: yuan prices, a dry-run preview, stock through the service."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Category, Product, Sku, Stock, StockMovement
from tests.admin.support_pages import page

pytestmark = pytest.mark.django_db

HEADER = "SKU编码,商品名称,分类,规格,售价（元）,划线价（元）,成本价（元）,库存,上架"


def _csv(*rows: str) -> SimpleUploadedFile:
    content = "\n".join([HEADER, *rows]) + "\n"
    return SimpleUploadedFile("skus.csv", content.encode("utf-8-sig"), content_type="text/csv")


def _snapshot() -> tuple:
    return (
        sorted(Sku.objects.values_list("code", "price_fen", "original_price_fen", "cost_fen", "specs")),
        sorted(Stock.objects.values_list("sku_id", "available")),
        StockMovement.objects.count(),
        sorted(Product.objects.values_list("name", "is_on_shelf", "min_price_fen")),
    )


def _dry_run(client, upload):
    return client.post(reverse("admin:catalog_sku_import"), {"format": "0", "import_file": upload})


ROWS = (
    "MILK-1,有机奶粉,母婴/奶粉,段位:1段,209.00,259,120,25,是",  # price up, stock 10 -> 25
    "MILK-2,有机奶粉,母婴/奶粉,段位:2段,189,,,2,是",  # stock 5 -> 2
    "BOTTLE-1,宽口奶瓶,母婴/奶粉,容量:240ml;颜色:蓝,59.9,79,20,30,否",  # new product and SKU
)


def test_dry_run_previews_without_changing_anything(admin_client, catalog):
    before = _snapshot()

    response = _dry_run(admin_client, _csv(*ROWS))

    html = page(response)
    assert "确认导入" in html
    assert response.context["confirm_form"] is not None
    assert "BOTTLE-1" in html and "宽口奶瓶" in html and "母婴/奶粉" in html
    # The preview diffs each cell: stock 10 -> 25 shows the target.
    assert '<ins style="background:#e6ffe6;">25</ins>' in html
    assert _snapshot() == before


def test_confirmed_import_moves_stock_through_the_ledger(admin_client, admin_user, catalog):
    confirm = _dry_run(admin_client, _csv(*ROWS)).context["confirm_form"]

    response = admin_client.post(reverse("admin:catalog_sku_process_import"), confirm.initial, follow=True)

    assert response.status_code == 200
    red = Sku.objects.get(code="MILK-1")
    assert (red.price_fen, red.original_price_fen, red.cost_fen) == (20900, 25900, 12000)
    assert Stock.objects.get(sku=red).available == 25
    assert Stock.objects.get(sku__code="MILK-2").available == 2
    bottle = Sku.objects.select_related("product__category").get(code="BOTTLE-1")
    assert bottle.specs == {"容量": "240ml", "颜色": "蓝"} and bottle.price_fen == 5990
    assert bottle.product.name == "宽口奶瓶" and bottle.product.category == catalog.child
    assert not bottle.product.is_on_shelf
    assert Stock.objects.get(sku=bottle).available == 30
    imported = StockMovement.objects.filter(reason=StockMovement.Reason.IMPORT).order_by("sku__code")
    assert [(m.sku.code, m.delta, m.operator) for m in imported] == [
        ("BOTTLE-1", 30, admin_user), ("MILK-1", 15, admin_user), ("MILK-2", -3, admin_user)]
    # Every unit is explained by the ledger.
    for sku in Sku.objects.all():
        assert sum(sku.movements.values_list("delta", flat=True)) == Stock.objects.get(sku=sku).available
    # The list price follows the SKUs (product_refresh_denormalised).
    assert Product.objects.get(pk=catalog.product.pk).min_price_fen == 18900
    assert Product.objects.get(name="宽口奶瓶").min_price_fen == 5990


def test_reimporting_the_same_stock_writes_no_movement(admin_client, catalog):
    upload = _csv("MILK-1,有机奶粉,母婴/奶粉,段位:1段,199,259,120,10,是")
    confirm = _dry_run(admin_client, upload).context["confirm_form"]
    movements = StockMovement.objects.count()

    admin_client.post(reverse("admin:catalog_sku_process_import"), confirm.initial)

    assert StockMovement.objects.count() == movements
    assert Stock.objects.get(sku=catalog.red).available == 10


def test_empty_stock_cell_leaves_stock_alone(admin_client, catalog):
    confirm = _dry_run(admin_client, _csv("MILK-1,有机奶粉,母婴/奶粉,段位:1段,199,,,,")).context["confirm_form"]

    admin_client.post(reverse("admin:catalog_sku_process_import"), confirm.initial)

    assert Stock.objects.get(sku=catalog.red).available == 10


@pytest.mark.parametrize(("row", "message"), [
    ("MILK-1,有机奶粉,母婴/奶粉,段位:1段,19.999,,,1,是", "金额最多两位小数"),
    ("MILK-1,有机奶粉,母婴/奶粉,段位:1段,,,,1,是", "金额不能为空"),
    ("MILK-1,有机奶粉,母婴/奶粉,段位:1段,10,,,-1,是", "库存应为不小于 0 的整数"),
    ("MILK-1,有机奶粉,母婴/奶粉,段位:1段,10,,,1,也许", "应填“是”或“否”"),
    ("NEW-1,新商品,母婴/不存在,颜色:红,10,,,1,是", "分类不存在：母婴/不存在"),
    ("NEW-1,新商品,,颜色:红,10,,,1,是", "必须填写分类"),
    ("NEW-1,,母婴/奶粉,颜色:红,10,,,1,是", "必须填写商品名称"),
    ("NEW-1,新商品,母婴/奶粉,红色,10,,,1,是", "格式不对"),
])
def test_bad_rows_are_reported_in_chinese_and_nothing_can_be_confirmed(admin_client, catalog, row, message):
    before = _snapshot()

    response = _dry_run(admin_client, _csv(row))

    html = page(response)
    assert message in html
    assert response.context.get("confirm_form") is None
    assert _snapshot() == before


def test_export_is_keyed_by_code_with_yuan_and_stock(admin_client, catalog):
    url = reverse("admin:catalog_sku_export")
    form_page = admin_client.get(url)
    assert "售价（元）" in page(form_page)
    columns = {name: "on" for name in form_page.context["form"].fields if name.startswith("skuresource_")}

    response = admin_client.post(url, {"format": "0", **columns})

    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == HEADER
    assert "MILK-1,有机奶粉,母婴/奶粉,段位:1段,199.00,259.00,120.00,10,是" in lines


def test_an_export_imports_back_unchanged(admin_client, catalog):
    url = reverse("admin:catalog_sku_export")
    columns = {name: "on" for name in admin_client.get(url).context["form"].fields
               if name.startswith("skuresource_")}
    exported = admin_client.post(url, {"format": "0", **columns}).content
    before = _snapshot()

    upload = SimpleUploadedFile("skus.csv", exported, content_type="text/csv")
    confirm = _dry_run(admin_client, upload).context["confirm_form"]
    admin_client.post(reverse("admin:catalog_sku_process_import"), confirm.initial)

    assert _snapshot() == before


def test_top_level_category_path(admin_client, catalog):
    Category.objects.create(name="清仓")
    confirm = _dry_run(admin_client, _csv("OUT-1,清仓袜子,清仓,,9.9,,,3,是")).context["confirm_form"]

    admin_client.post(reverse("admin:catalog_sku_process_import"), confirm.initial)

    assert Sku.objects.get(code="OUT-1").product.category.name == "清仓"
