"""The sandbox's phone shop (/sandbox/shop/) in a real browser at 390 px: a new shopper sees the
decorated home page, logs in with wx.login(), searches in pinyin (suggestions, hot words, recent
searches cleared), opens a product from the home page, claims its coupon, adds it to the cart,
checks out with the coupon and points, pays with wx.requestPayment and sees the paid order, then
asks for a refund — all through the mall's public API. Nothing is fetched from any host but the sandbox and
the mall. SHOP_SCREENSHOTS=docs/screenshots keeps a picture of each screen.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.cache import caches
from django.core.files.base import ContentFile
from playwright.sync_api import sync_playwright

from catalog.search.query import dictionary_reload
from members.models import Member, PointsKind
from members.services.points import points_award
from shop.demo.images import product_image
from shop.demo.storefront import load_home_page_demo, load_search_demo
from shop.models import AfterSale, Order, OrderStatus
from shop.pages import CACHE_ALIAS
from tests.campaigns.support_checkout import full_reduction, template
from tests.factories import CategoryFactory, FlashItemFactory, ProductFactory, SkuFactory, default_freight

CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/install_browser.sh); Playwright downloads nothing
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def storefront(db):
    """Two categories, a milk powder with a photo and two SKUs, nappies, a flash item, a coupon
    in the centre, a 满减 and freight free from ¥99; the demo's decorated home page and search
    (synonyms, pinned hot words, the index) over them, as `make run` loads them."""
    default_freight()
    milk_category, nappies = CategoryFactory.create(name="奶粉"), CategoryFactory.create(name="纸尿裤")
    milk = ProductFactory.create(category=milk_category, name="婴儿配方奶粉 3段 800g", subtitle="新西兰奶源 · 易吸收",
                                 description="适合 1–3 岁宝宝。", tags=["hot"])
    milk.main_image.save("milk.jpg", ContentFile(product_image(seed=11, shape="bubble", palette=((255, 214, 222),),
                                                               label="奶粉")), save=True)
    SkuFactory.create(product=milk, specs={"规格": "800g"}, price_fen=26800, original_price_fen=29800, stock=50)
    SkuFactory.create(product=milk, specs={"规格": "400g"}, price_fen=14800, stock=50)
    pants = ProductFactory.create(category=nappies, name="纸尿裤 L码 52片", subtitle="超薄透气")
    pants.main_image.save("pants.jpg", ContentFile(product_image(seed=5, shape="bubble", palette=((205, 232, 255),),
                                                                 label="纸尿裤")), save=True)
    FlashItemFactory.create(sku=SkuFactory.create(product=pants, specs={"规格": "L"}, price_fen=8900, stock=50),
                            flash_price_fen=5900)
    template(name="奶粉新客券", threshold_fen=20000, amount_fen=2000, show_in_center=True, per_member_limit=1,
             stacks_with_activities=True)
    full_reduction(name="母婴节满减", steps=[(29900, 3000), (49900, 6000)])
    load_search_demo()
    dictionary_reload()
    load_home_page_demo()
    caches[CACHE_ALIAS].clear()
    return milk


def test_a_new_shopper_buys_and_pays_in_the_phone_shop_at_390px(mall, sandbox, storefront, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread
    shots = os.environ.get("SHOP_SCREENSHOTS")
    allowed = {urlsplit(mall.url).netloc, urlsplit(sandbox.base_url).netloc}
    foreign: list[str] = []
    failed: list[str] = []
    errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                   device_scale_factor=1).new_page()
        page.on("request", lambda r: foreign.append(r.url)
                if urlsplit(r.url).scheme in ("http", "https") and urlsplit(r.url).netloc not in allowed else None)
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def screen(name: str, ready: str) -> None:
            page.wait_for_selector(ready)
            if shots:
                page.wait_for_selector("#toast", state="hidden")
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(Path(shots) / f"h5-shop-{name}.png"))

        # the decorated home page, every kind of block the demo composes; 我的 asks for a login:
        # wx.login() in the sandbox, then our login API
        page.goto(f"{sandbox.base_url}sandbox/shop/")
        for kind in ("banner", "notice", "icon_nav", "coupons", "flash", "products", "image_link"):
            page.wait_for_selector(f"section[data-kind={kind}]")
        screen("home", "section[data-kind=products] .tile")
        page.eval_on_selector("section[data-kind=flash]", "el => window.scrollTo(0, el.offsetTop - 56)")
        screen("home-blocks", "section[data-kind=image_link]")
        page.click("#tabs a[data-tab=me]")
        page.click("#login")
        page.wait_for_selector("text=我的订单")
        member = Member.objects.get()
        points_award(member_id=member.pk, points=3000, kind=PointsKind.CAMPAIGN, reference="h5-test")

        # search in pinyin: the hot words first, suggestions while typing, 奶粉 highlighted in the results
        page.click("#tabs a[data-tab=home]")
        page.click(".search-entry")
        page.wait_for_selector("#hot a.hot:has-text('奶粉')")
        page.fill("input[name=q]", "naifen")
        page.wait_for_selector(".suggestions li:has-text('奶粉')")
        screen("search-suggest", ".suggestions li")
        page.press("input[name=q]", "Enter")
        page.wait_for_selector("#found-count:has-text('共 1 件')")
        assert "<em>" in page.inner_html(".tile .name")
        screen("search", ".tile em")
        # the search went to the member's recent searches; they clear
        page.go_back()
        page.wait_for_selector("#recent a:has-text('naifen')")
        screen("search-start", "#hot")
        page.click("#clear-recent")
        page.wait_for_selector("#recent", state="detached")

        # the home page's icons lead to their category's products
        page.click("#tabs a[data-tab=home]")
        page.click("section[data-kind=icon_nav] a.icon:has-text('奶粉')")
        page.wait_for_selector("text=分类：奶粉")
        page.wait_for_selector("#found-count:has-text('共 1 件')")

        # from the home page's product group to the product page with its offers; claim the coupon
        page.click("#tabs a[data-tab=home]")
        page.click(f"section[data-kind=products] a.tile[href='#/product/{storefront.pk}']")
        page.wait_for_selector("#final-price")
        page.click("text=领取")
        page.wait_for_selector("text=已领取")
        screen("product", "text=母婴节满减")
        page.click("text=加入购物车")
        page.wait_for_selector("#toast:has-text('已加入购物车')")

        # the cart with its hints, checkout with the coupon and points, an address first
        page.click("#tabs a[data-tab=cart]")
        screen("cart", "text=再买")
        page.click(".qty button:has-text('+')")
        page.wait_for_selector("text=已选 2 件")
        page.click("#to-checkout")
        page.wait_for_selector("#address-form")
        for name, value in {"receiver_name": "李小鱼", "phone": "13800138000", "province": "浙江省", "city": "杭州市",
                            "district": "西湖区", "detail": "文三路 100 号"}.items():
            page.fill(f"#address-form input[name={name}]", value)
        page.click("#address-form button")
        page.wait_for_selector("#use-points")
        page.check("#use-points")
        page.wait_for_selector("text=积分抵扣")  # the preview redrawn with the points, not just the box ticked
        screen("checkout", "#submit-order:not([disabled])")
        page.click("#submit-order")

        # wx.requestPayment in the sandbox, then the paid order
        page.wait_for_selector("#order-status:has-text('待发货')")
        screen("order-paid", "text=申请售后")
        order = Order.objects.get()

        page.click("#tabs a[data-tab=me]")
        screen("me", ".badges")
        page.click("#tabs a[data-tab=coupons]")
        screen("coupons", ".coupon")

        # a refund of the paid order, before it ships
        page.goto(f"{sandbox.base_url}sandbox/shop/#/orders/{order.order_no}/after-sale")
        page.click("text=提交申请")
        screen("after-sale", "text=进度")
        browser.close()

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.points_used > 0
    stages = {a.stage for line in order.lines.all() for a in line.adjustments.all()}
    assert {"full_reduction", "coupon", "points"} <= stages, stages
    assert AfterSale.objects.filter(order=order).count() == 1
    assert foreign == []
    assert failed == [] and errors == []
