"""Decorated pages: resolved in one request with a fixed number of queries, cached under the
page's version so an operator's save shows at once, schedules and live prices respected."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Category, ProductTag, Stock
from shop.models import BlockKind, LinkKind, PageBlock, ProductRule, StorePage
from shop.pages import CACHE_ALIAS, HOME, page_for_shopper, page_resolve
from shop.services.pages import page_block_add, page_ensure
from tests.factories import CouponTemplateFactory, FlashItemFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 30
    caches[CACHE_ALIAS].clear()
    yield
    caches[CACHE_ALIAS].clear()


def _products(count: int, *, category: Category | None = None, tags: list[str] | None = None) -> list[int]:
    ids = []
    for n in range(count):
        product = ProductFactory.create(**({"category": category} if category else {}), tags=tags or [],
                                        sales_count=n)
        SkuFactory.create(product=product, price_fen=1000 + n, stock=20)
        ids.append(product.pk)
    return ids


def _decorated_home(products_per_group: int) -> StorePage:
    """Every kind of block; each product group holds `products_per_group` products."""
    category = Category.objects.create(name="母婴")
    hand_picked = _products(products_per_group, category=category, tags=[ProductTag.NEW])
    _products(products_per_group, category=category, tags=[ProductTag.HOT])
    CouponTemplateFactory.create()
    FlashItemFactory.create()
    page = page_ensure(key=HOME, title="首页")
    page_block_add(page=page, kind=BlockKind.BANNER, items=[{"title": f"活动{n}", "link_kind": LinkKind.CATEGORY,
                                                             "link_category": category} for n in range(3)])
    page_block_add(page=page, kind=BlockKind.NOTICE, text="满99包邮")
    page_block_add(page=page, kind=BlockKind.ICON_NAV, items=[{"title": "领券", "link_kind": LinkKind.COUPON_CENTRE}])
    page_block_add(page=page, kind=BlockKind.COUPONS, limit=3)
    page_block_add(page=page, kind=BlockKind.FLASH)
    page_block_add(page=page, kind=BlockKind.IMAGE_LINK, items=[{"title": "广告", "link_kind": LinkKind.PATH,
                                                                 "link_value": "/pages/x"}])
    for rule in (ProductRule.NEW, ProductRule.HOT):
        page_block_add(page=page, kind=BlockKind.PRODUCTS, product_rule=rule, limit=products_per_group)
    page_block_add(page=page, kind=BlockKind.PRODUCTS, product_rule=ProductRule.CATEGORY, category=category,
                   limit=products_per_group)
    page_block_add(page=page, kind=BlockKind.PRODUCTS, product_rule=ProductRule.TAG, tag=ProductTag.HOT,
                   limit=products_per_group)
    page_block_add(page=page, kind=BlockKind.PRODUCTS, product_rule=ProductRule.MANUAL, limit=products_per_group,
                   items=[{"product_id": pid, "link_kind": LinkKind.PRODUCT} for pid in hand_picked])
    return StorePage.objects.get(pk=page.pk)


def _queries_to_resolve(page: StorePage) -> int:
    with CaptureQueriesContext(connection) as queries:
        page_resolve(page=page, now=timezone.now())
    return len(queries.captured_queries)


def test_resolving_a_page_takes_the_same_queries_however_many_products_its_blocks_show():
    small = _queries_to_resolve(_decorated_home(products_per_group=1))
    StorePage.objects.all().delete()

    page = _decorated_home(products_per_group=12)
    large = _queries_to_resolve(page)

    resolved = page_resolve(page=page, now=timezone.now())
    groups = [b for b in resolved["blocks"] if b["kind"] == BlockKind.PRODUCTS]
    assert [len(g["products"]) for g in groups] == [12, 12, 12, 12, 12]
    assert large == small <= 14


def test_the_api_serves_the_page_in_one_request_and_from_the_cache_after(api_client, django_assert_max_num_queries):
    _decorated_home(products_per_group=4)
    first = api_client.get("/api/v1/pages/home")

    with django_assert_max_num_queries(1):  # the page's version, nothing else
        second = api_client.get("/api/v1/pages/home")

    assert first.status_code == 200 and second.json() == first.json()
    body = first.json()
    assert [b["kind"] for b in body["blocks"]] == [
        "banner", "notice", "icon_nav", "coupons", "flash", "image_link",
        "products", "products", "products", "products", "products"]
    assert body["blocks"][0]["items"][0]["link"]["kind"] == "category"
    flash = body["blocks"][4]["session"]
    assert flash["state"] == "running" and flash["items"][0]["flash_price_fen"] == 4900
    assert body["blocks"][3]["coupons"][0]["benefit_text"] == "减10元"


def test_an_operators_save_shows_at_once(admin_client, api_client):
    page = _decorated_home(products_per_group=2)
    before = api_client.get("/api/v1/pages/home").json()
    notice = PageBlock.objects.get(page=page, kind=BlockKind.NOTICE)
    url = reverse("admin:shop_pageblock_change", args=[notice.pk])
    data = {"page": str(page.pk), "kind": "notice", "title": "", "sort": "5", "is_active": "on", "text": "今晚8点上新",
            "product_rule": "", "tag": "", "limit": "6",
            "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000"}

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    after = api_client.get("/api/v1/pages/home").json()
    assert after["version"] == before["version"] + 1
    assert after["blocks"][0] == {"id": notice.pk, "kind": "notice", "title": "", "text": "今晚8点上新", "link": None}


def test_schedules_hide_blocks_outside_their_window_and_bound_the_cache():
    now = timezone.now()
    page = page_ensure(key="event", title="双十二")
    page_block_add(page=page, kind=BlockKind.NOTICE, text="一直在")
    page_block_add(page=page, kind=BlockKind.NOTICE, text="明天开始", starts_at=now + dt.timedelta(minutes=5))
    page_block_add(page=page, kind=BlockKind.NOTICE, text="已结束", ends_at=now - dt.timedelta(minutes=1))

    served = page_for_shopper(key="event", now=now, origin="http://a")
    later = page_for_shopper(key="event", now=now + dt.timedelta(minutes=6), origin="http://a")

    assert [b["text"] for b in served["blocks"]] == ["一直在"]
    assert served["changes_at"] == timezone.localtime(now + dt.timedelta(minutes=5)).isoformat()
    assert [b["text"] for b in later["blocks"]] == ["一直在", "明天开始"]  # not the cached copy


def test_product_cards_carry_the_live_price_flash_price_and_stock_state():
    item = FlashItemFactory.create(flash_price_fen=3900, sku=SkuFactory.create(stock=20))
    sold_out = _products(1)[0]
    Stock.objects.filter(sku__product_id=sold_out).update(available=0)
    page = page_ensure(key=HOME, title="首页")
    page_block_add(page=page, kind=BlockKind.PRODUCTS, product_rule=ProductRule.MANUAL,
                   items=[{"product_id": item.sku.product_id}, {"product_id": sold_out}])

    cards = page_resolve(page=page, now=timezone.now())["blocks"][0]["products"]

    assert [(c["price_fen"], c["flash_price_fen"], c["stock_state"]) for c in cards] == [
        (9900, 3900, "in_stock"), (1000, None, "sold_out")]


def test_an_unknown_or_disabled_page_is_404(api_client):
    StorePage.objects.create(key="off", title="停用", is_active=False)

    for key in ("nope", "off"):
        response = api_client.get(f"/api/v1/pages/{key}")
        assert response.status_code == 404
        assert response.json()["code"] == "page_not_found"


def test_the_console_preview_shows_how_the_page_resolves(admin_client):
    page = _decorated_home(products_per_group=2)

    html = admin_client.get(reverse("admin:shop_storepage_preview", args=[page.pk])).content.decode()
    tomorrow = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    later = admin_client.get(reverse("admin:shop_storepage_preview", args=[page.pk]), {"at": tomorrow})

    assert "满99包邮" in html and "模块排期" in html and "减10元" in html
    assert later.status_code == 200


def test_the_block_form_refuses_a_category_group_without_a_category(admin_client):
    page = page_ensure(key=HOME, title="首页")
    data = {"page": str(page.pk), "kind": "products", "title": "", "sort": "0", "is_active": "on", "text": "",
            "product_rule": "category", "tag": "", "limit": "6",
            "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000"}

    response = admin_client.post(reverse("admin:shop_pageblock_add"), data)

    assert "选品规则为“指定分类”时请选择分类" in response.content.decode()
    assert not PageBlock.objects.exists()
