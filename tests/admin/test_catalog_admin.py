"""Catalog pages: yuan in and out, stock read-only, new SKUs get stock through the service."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from catalog.models import Category, Product, ProductImage, Sku, Stock, StockMovement
from tests.admin.support_pages import page

pytestmark = pytest.mark.django_db


def _png(width: int = 8, height: int = 8, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def _product_post(category: Category, skus: list[dict[str, str]], **extra: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": str(category.pk), "name": "新品连衣裙", "subtitle": "", "description": "",
        "freight_template": "", "sort": "0",
        "skus-TOTAL_FORMS": str(len(skus)), "skus-INITIAL_FORMS": "0",
        "skus-MIN_NUM_FORMS": "0", "skus-MAX_NUM_FORMS": "1000",
        "images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0", "images-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for index, sku in enumerate(skus):
        for key, value in sku.items():
            data[f"skus-{index}-{key}"] = value
    return data


def test_product_list_shows_thumbnail_category_yuan_stock_and_shelf(admin_client, catalog):
    html = page(admin_client.get(reverse("admin:catalog_product_changelist")))

    assert "商品" in html and "有机奶粉" in html
    assert "母婴 / 奶粉" in html
    assert "¥189.00" in html  # the lowest active SKU price, in yuan
    assert ">15<" in html  # total stock 10 + 5
    assert "上架所选商品" in html and "下架所选商品" in html
    assert "导入商品/SKU" in html


def test_product_page_shows_yuan_and_no_stock_input(admin_client, catalog):
    html = page(admin_client.get(reverse("admin:catalog_product_change", args=[catalog.product.pk])))

    assert 'value="199.00"' in html and 'value="259.00"' in html
    assert 'value="段位:1段"' in html
    assert "调整库存" in html
    # Stock is a read-only column: no input posts it, and initial stock is disabled for saved SKUs.
    assert 'name="skus-0-available"' not in html and 'name="skus-0-stock' not in html
    assert 'name="skus-0-initial_stock"' in html and "disabled" in html


def test_saving_a_product_ignores_posted_stock(admin_client, catalog):
    url = reverse("admin:catalog_product_change", args=[catalog.product.pk])
    data = _product_post(catalog.child, [], is_on_shelf="on")
    data.update({"name": "有机奶粉", "skus-TOTAL_FORMS": "2", "skus-INITIAL_FORMS": "2"})
    for index, sku in enumerate([catalog.red, catalog.blue]):
        data.update({f"skus-{index}-id": str(sku.pk), f"skus-{index}-product": str(catalog.product.pk),
                     f"skus-{index}-code": sku.code, f"skus-{index}-specs": f"段位:{index + 1}段",
                     f"skus-{index}-price_fen": "150.50", f"skus-{index}-original_price_fen": "",
                     f"skus-{index}-cost_fen": "80", f"skus-{index}-weight_g": "900",
                     f"skus-{index}-is_active": "on",
                     f"skus-{index}-initial_stock": "999", f"skus-{index}-available": "999"})

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    catalog.red.refresh_from_db()
    assert (catalog.red.price_fen, catalog.red.original_price_fen, catalog.red.cost_fen) == (15050, 0, 8000)
    assert Stock.objects.get(sku=catalog.red).available == 10
    assert Stock.objects.get(sku=catalog.blue).available == 5
    assert Product.objects.get(pk=catalog.product.pk).min_price_fen == 15050  # refreshed by the service


def test_adding_a_product_creates_stock_rows_and_opening_stock_through_the_service(admin_client, catalog):
    data = _product_post(catalog.child, [
        {"code": "DRESS-S", "specs": "颜色：红；尺码：S", "price_fen": "¥129.90", "original_price_fen": "199",
         "cost_fen": "", "weight_g": "300", "is_active": "on", "initial_stock": "12"},
        {"code": "DRESS-M", "specs": "颜色:红;尺码:M", "price_fen": "139", "original_price_fen": "",
         "cost_fen": "60.5", "weight_g": "320", "is_active": "on", "initial_stock": ""},
    ])

    response = admin_client.post(reverse("admin:catalog_product_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    product = Product.objects.get(name="新品连衣裙")
    small, medium = Sku.objects.filter(product=product).order_by("code")[::-1]
    assert small.code == "DRESS-S" and small.specs == {"颜色": "红", "尺码": "S"}
    assert (small.price_fen, small.original_price_fen, small.cost_fen) == (12990, 19900, 0)
    assert medium.cost_fen == 6050
    assert Stock.objects.get(sku=small).available == 12
    assert Stock.objects.get(sku=medium).available == 0  # row exists, created by stock_ensure_row
    movement = StockMovement.objects.get(sku=small)
    assert (movement.delta, movement.reason) == (12, StockMovement.Reason.INITIAL)
    assert movement.operator is not None
    assert product.min_price_fen == 12990


@pytest.mark.parametrize(("price", "message"), [
    ("19.999", "金额最多两位小数"),
    ("abc", "不是有效的金额"),
    ("-1", "金额不能为负数"),
])
def test_bad_price_is_refused_in_chinese_and_nothing_is_saved(admin_client, catalog, price, message):
    data = _product_post(catalog.child, [{"code": "X-1", "specs": "", "price_fen": price, "weight_g": "0",
                                          "is_active": "on"}])

    html = page(admin_client.post(reverse("admin:catalog_product_add"), data))

    assert message in html
    assert not Product.objects.filter(name="新品连衣裙").exists()


def test_duplicate_specs_and_bad_spec_text_are_refused(admin_client, catalog):
    data = _product_post(catalog.child, [
        {"code": "A-1", "specs": "颜色:红", "price_fen": "1", "weight_g": "0"},
        {"code": "A-2", "specs": "颜色:红", "price_fen": "1", "weight_g": "0"},
    ])
    assert "规格重复" in page(admin_client.post(reverse("admin:catalog_product_add"), data))

    data = _product_post(catalog.child, [{"code": "A-3", "specs": "红色", "price_fen": "1", "weight_g": "0"}])
    assert "格式不对" in page(admin_client.post(reverse("admin:catalog_product_add"), data))


def test_images_are_checked_with_pillow(admin_client, catalog, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    url = reverse("admin:catalog_product_change", args=[catalog.product.pk])

    def post_with(upload: SimpleUploadedFile) -> str:
        data = _product_post(catalog.child, [], is_on_shelf="on", name="有机奶粉")
        data.update({"skus-TOTAL_FORMS": "0", "main_image": upload})
        response = admin_client.post(url, data)
        return "" if response.status_code == 302 else response.content.decode()

    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    assert "仅支持 JPEG、PNG、WebP" in post_with(SimpleUploadedFile("a.gif", gif.getvalue()))
    assert "请上传有效的图片" in post_with(SimpleUploadedFile("a.png", b"not an image"))
    assert "不能超过 5 MB" in post_with(SimpleUploadedFile("big.png", b"\0" * (5 * 1024 * 1024 + 1)))
    # 8000 x 6000 = 48 megapixels: refused from the header, before decoding.
    huge = io.BytesIO()
    Image.new("1", (8000, 6000)).save(huge, format="PNG")
    assert "4000 万像素" in post_with(SimpleUploadedFile("huge.png", huge.getvalue()))

    assert post_with(SimpleUploadedFile("ok.webp", _png(fmt="WEBP"))) == ""
    assert Product.objects.get(pk=catalog.product.pk).main_image.name.endswith(".webp")


def test_product_images_inline_accepts_png(admin_client, catalog, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = _product_post(catalog.child, [], is_on_shelf="on", name="有机奶粉")
    data.update({"skus-TOTAL_FORMS": "0", "images-TOTAL_FORMS": "1",
                 "images-0-image": SimpleUploadedFile("p.png", _png()), "images-0-sort": "1"})

    response = admin_client.post(reverse("admin:catalog_product_change", args=[catalog.product.pk]), data)

    assert response.status_code == 302
    assert ProductImage.objects.filter(product=catalog.product).count() == 1
    html = page(admin_client.get(reverse("admin:catalog_product_changelist")))
    assert 'class="mall-thumb"' in html


def test_console_images_are_reencoded_like_shoppers_photos(admin_client, catalog, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    photo = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 120, 200)).save(photo, format="JPEG", exif=exif.tobytes())
    appended = photo.getvalue() + b"<?php system($_GET['c']); ?>"
    data = _product_post(catalog.child, [], is_on_shelf="on", name="有机奶粉")
    data.update({"skus-TOTAL_FORMS": "0", "main_image": SimpleUploadedFile("IMG_2041 店长.jpg", appended),
                 "images-TOTAL_FORMS": "1", "images-0-image": SimpleUploadedFile("gallery.jpg", appended),
                 "images-0-sort": "1"})

    response = admin_client.post(reverse("admin:catalog_product_change", args=[catalog.product.pk]), data)

    assert response.status_code == 302
    product = Product.objects.get(pk=catalog.product.pk)
    for stored in (product.main_image, ProductImage.objects.get(product=product).image):
        raw = (tmp_path / stored.name).read_bytes()
        assert re.fullmatch(r"products/[0-9a-f]{32}\.jpg", stored.name), stored.name
        assert b"PhoneMaker" not in raw and b"<?php" not in raw
        with Image.open(tmp_path / stored.name) as image:
            assert (image.size, dict(image.getexif())) == ((16, 12), {})


def test_shelf_actions(admin_client, catalog):
    empty = Product.objects.create(category=catalog.child, name="空商品")
    url = reverse("admin:catalog_product_changelist")

    admin_client.post(url, {"action": "unshelve", "_selected_action": [catalog.product.pk]})
    assert not Product.objects.get(pk=catalog.product.pk).is_on_shelf

    response = admin_client.post(url, {"action": "shelve", "_selected_action": [catalog.product.pk, empty.pk]},
                                 follow=True)
    html = page(response)
    assert Product.objects.get(pk=catalog.product.pk).is_on_shelf
    assert not Product.objects.get(pk=empty.pk).is_on_shelf  # no active SKU: stays off the shelf
    assert "已上架 1 个商品" in html and "空商品" in html


def test_categories_are_two_levels(admin_client, catalog):
    html = page(admin_client.get(reverse("admin:catalog_category_changelist")))
    assert "上级分类" in html and "奶粉" in html

    # The top level's page lists its children inline; a child's page does not.
    assert "子分类" in page(admin_client.get(reverse("admin:catalog_category_change", args=[catalog.parent.pk])))
    child_page = page(admin_client.get(reverse("admin:catalog_category_change", args=[catalog.child.pk])))
    assert 'name="children-TOTAL_FORMS"' not in child_page

    # A child cannot become a parent, and a parent with children cannot get a parent.
    grandchild = {"parent": str(catalog.child.pk), "name": "三级", "sort": "0", "is_active": "on",
                  "children-TOTAL_FORMS": "0", "children-INITIAL_FORMS": "0"}
    assert "选择一个有效的选项" in page(admin_client.post(reverse("admin:catalog_category_add"), grandchild))
    other = Category.objects.create(name="服装")
    data = {"parent": str(other.pk), "name": "母婴", "sort": "0", "is_active": "on",
            "children-TOTAL_FORMS": "0", "children-INITIAL_FORMS": "0"}
    html = page(admin_client.post(reverse("admin:catalog_category_change", args=[catalog.parent.pk]), data))
    assert "最多两级" in html


def test_sku_list_and_page_are_read_only(admin_client, catalog):
    html = page(admin_client.get(reverse("admin:catalog_sku_changelist")))
    assert "MILK-1" in html and "¥199.00" in html and "调整库存" in html

    html = page(admin_client.get(reverse("admin:catalog_sku_change", args=[catalog.red.pk])))
    assert "可售库存" in html and "初始库存" in html  # the opening stock movement is listed
    form = html.split('id="sku_form"')[1].split("</form>")[0]
    assert not re.findall(r'<input(?![^>]*type="hidden")|<select|<textarea', form)  # nothing editable
