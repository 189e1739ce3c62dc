"""Demo storefront: search synonyms and pinned hot words, the search index, and a decorated home page."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageDraw

from campaigns import posters
from catalog.models import Category, Product, SearchDocument, SearchHotWord, SearchSynonym
from catalog.search.index import search_index_rebuild
from shop.models import BlockKind, LinkKind, ProductRule, StorePage
from shop.pages import HOME
from shop.services.pages import page_block_add, page_ensure

SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("纸尿裤", "尿不湿", "尿片"),
    ("拉拉裤", "学步裤"),
    ("奶粉", "配方奶"),
    ("口红", "唇膏"),
    ("面霜", "乳霜"),
    ("保温杯", "水杯"),
    ("四件套", "床单被套"),
    ("咖啡", "速溶咖啡"),
)
HOT_WORDS: tuple[tuple[str, bool], ...] = (("奶粉", True), ("纸尿裤", False), ("面膜", False), ("坚果", False))


def load_search_demo() -> str:
    """Synonyms and hot words once (skipped when an operator has any), then the index of every
    product if some product has none yet. Returns what was done, for the loader's report."""
    done = []
    if not SearchSynonym.objects.exists():
        SearchSynonym.objects.bulk_create(SearchSynonym(words=list(words)) for words in SYNONYMS)
        done.append(f"{len(SYNONYMS)} synonym groups")
    if not SearchHotWord.objects.exists():
        SearchHotWord.objects.bulk_create(SearchHotWord(word=word, sort=i, highlight=highlight)
                                          for i, (word, highlight) in enumerate(HOT_WORDS))
        done.append(f"{len(HOT_WORDS)} hot words")
    if SearchDocument.objects.count() < Product.objects.count():
        written = search_index_rebuild()["documents"]
        done.append(f"{written} products indexed")
    return ", ".join(done) or "skipped"


# ---------------------------------------------------------------- the decorated home page

BANNERS: tuple[tuple[str, str, tuple[int, int, int], tuple[int, int, int]], ...] = (
    ("母婴节 · 奶粉满199减30", "贝乐滋全段位 正品直发", (255, 150, 170), (255, 214, 160)),
    ("新品面霜 第二件半价", "花间集 玻尿酸 24小时锁水", (160, 190, 255), (214, 170, 255)),
    ("下午茶专场 全场包邮", "曲奇 · 蛋糕 · 冷泡茶", (255, 196, 120), (250, 120, 100)),
)


def banner_image(title: str, subtitle: str, left: tuple[int, int, int], right: tuple[int, int, int],
                 *, size: tuple[int, int] = (750, 300)) -> bytes:
    """A 750×300 banner: a left-to-right gradient with a title and a line under it (Noto Sans SC)."""
    width, height = size
    mask = Image.linear_gradient("L").rotate(90).resize(size)
    picture = Image.composite(Image.new("RGB", size, left), Image.new("RGB", size, right), mask)
    draw = ImageDraw.Draw(picture)
    draw.ellipse((width - 170, -110, width + 90, 150), fill=tuple(min(c + 30, 255) for c in right))
    draw.text((48, 86), title, font=posters.font(46), fill=(255, 255, 255))
    draw.text((50, 160), subtitle, font=posters.font(26), fill=(255, 255, 255))
    draw.rounded_rectangle((50, 214, 206, 258), radius=22, fill=(255, 255, 255))
    draw.text((78, 220), "立即抢购", font=posters.font(24), fill=right)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85)
    return out.getvalue()


def icon_image(label: str, colour: tuple[int, int, int]) -> bytes:
    """A 120×120 round icon with one character on it, for the icon navigation."""
    picture = Image.new("RGB", (120, 120), (255, 255, 255))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((4, 4, 116, 116), fill=colour)
    glyph = posters.font(54)
    width = draw.textlength(label, font=glyph)
    draw.text(((120 - width) / 2, 26), label, font=glyph, fill=(255, 255, 255))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _picture(name: str, content: bytes) -> str:
    """Store a demo picture under pages/ (overwriting a previous run's) and return its name."""
    path = f"pages/{name}"
    if default_storage.exists(path):
        default_storage.delete(path)
    return default_storage.save(path, ContentFile(content))


def load_home_page_demo() -> str:
    """The decorated home page (banners, notice, icon navigation, coupons, today's flash sale,
    product groups by rule and hand-picked, an image ad), through the page services. Created once:
    skipped when a home page exists, so an operator's own page is never touched."""
    if StorePage.objects.filter(key=HOME).exists():
        return "skipped (home page exists)"
    tops = list(Category.objects.filter(parent__isnull=True, is_active=True).order_by("sort", "id")[:4])
    picks = list(Product.objects.filter(is_on_shelf=True, tags__contains=["recommended"]).order_by("id")[:4]) or list(
        Product.objects.filter(is_on_shelf=True).order_by("-sales_count")[4:8])
    with transaction.atomic():
        page = page_ensure(key=HOME, title="首页")
        page_block_add(page=page, kind=BlockKind.BANNER, items=[
            {"title": title, "image": _picture(f"demo-banner-{i}.jpg", banner_image(title, sub, left, right)),
             "link_kind": LinkKind.CATEGORY, "link_category": tops[i % len(tops)] if tops else None}
            for i, (title, sub, left, right) in enumerate(BANNERS)])
        page_block_add(page=page, kind=BlockKind.NOTICE, text="全场满99元包邮（新疆、西藏除外）· 新人注册即送优惠券")
        page_block_add(page=page, kind=BlockKind.ICON_NAV, items=[
            *({"title": c.name, "image": c.icon.name, "link_kind": LinkKind.CATEGORY, "link_category": c}
              for c in tops),
            {"title": "领券中心", "image": _picture("demo-icon-coupon.png", icon_image("券", (245, 80, 80))),
             "link_kind": LinkKind.COUPON_CENTRE},
            {"title": "限时秒杀", "image": _picture("demo-icon-flash.png", icon_image("秒", (250, 140, 40))),
             "link_kind": LinkKind.FLASH},
            {"title": "热门搜索", "image": _picture("demo-icon-search.png", icon_image("搜", (60, 150, 240))),
             "link_kind": LinkKind.SEARCH, "link_value": "奶粉"},
            {"title": "会员中心", "image": _picture("demo-icon-member.png", icon_image("会", (150, 100, 220))),
             "link_kind": LinkKind.PATH, "link_value": "/pages/member/index"},
        ])
        page_block_add(page=page, kind=BlockKind.COUPONS, title="领券中心", limit=3)
        page_block_add(page=page, kind=BlockKind.FLASH, title="今日秒杀", limit=4)
        page_block_add(page=page, kind=BlockKind.PRODUCTS, title="热销榜", product_rule=ProductRule.HOT, limit=6)
        page_block_add(page=page, kind=BlockKind.IMAGE_LINK, items=[
            {"title": "母婴专场", "image": _picture("demo-ad-baby.jpg", banner_image(
                "母婴专场", "纸尿裤 · 奶粉 · 辅食 一站购齐", (120, 200, 180), (90, 150, 230), size=(750, 200))),
             "link_kind": LinkKind.CATEGORY, "link_category": tops[0] if tops else None}])
        page_block_add(page=page, kind=BlockKind.PRODUCTS, title="新品首发", product_rule=ProductRule.NEW, limit=4)
        if tops:
            page_block_add(page=page, kind=BlockKind.PRODUCTS, title=f"{tops[0].name}精选",
                           product_rule=ProductRule.CATEGORY, category=tops[0], limit=6)
        page_block_add(page=page, kind=BlockKind.PRODUCTS, title="编辑推荐", product_rule=ProductRule.MANUAL,
                       items=[{"product": p, "link_kind": LinkKind.PRODUCT} for p in picks])
    return f"home page with {page.blocks.count()} blocks"
