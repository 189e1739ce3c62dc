"""Sharing a product: the share card (title, image, page path) and the share poster (商品分享海报).

The poster's mini-program code carries the product and the sharer in its scene: "p=<product>&d=<id>"
for an active distributor (scanning binds as the distributor's own poster does), "p=<product>&s=<share
no>" for any other member: a product Share made with the poster, so opening it is a share visit like
any other (campaigns.services.sharing: new members and orders credited to the sharer, the spread
tree). Each (product, sharer) gets one code, made once (WeChat's codes are permanent), and one stored
poster, drawn again only when what it shows changes (ProductPoster.version). The WeChat call, the
drawing and the file writes run outside any transaction; each file is attached by one conditional
UPDATE, so of two concurrent requests one file is kept and the other deletes its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from campaigns.models import Distributor, DistributorStatus, ProductPoster, ShareKind, SharerKind
from campaigns.posters import ProductPosterContent, product_poster_render
from campaigns.selectors.coupons import yuan_text
from campaigns.services.sharing import share_create
from catalog.errors import ProductUnavailable
from catalog.models import Product, Sku
from members.models import Member
from wechat.miniprogram import get_wxacode_unlimit


@dataclass(frozen=True)
class ProductShare:
    """What the mini-program needs to share a product: the card (onShareAppMessage's title,
    imageUrl and path) and the stored poster."""

    title: str
    image: str  # the product's main image (storage name), "" for none
    path: str  # the page with the product and the sharer in its query
    scene: str
    poster: ProductPoster

    @property
    def share_no(self) -> str | None:
        """The member's product share the card and poster carry (None for a distributor's)."""
        key, _, value = self.scene.partition("&")[2].partition("=")
        return value if key == "s" else None


@dataclass(frozen=True)
class _Shown:
    """What the poster shows of the product."""

    product: Product
    price_fen: int
    price_varies: bool
    original_price_fen: int


def product_share(*, member: Member, product_id: int) -> ProductShare:
    """The share card and poster of an on-shelf product for `member` (404 product_not_found
    otherwise). Network I/O (the code, the first time) and drawing (when the product changed):
    never call inside a transaction. WechatApiError (502) when WeChat fails; nothing is stored then."""
    shown = _shown(product_id)
    kind, sharer_id = _sharer(member)
    poster = _row(product_id=product_id, kind=kind, sharer_id=sharer_id)
    poster = _ensure_code(poster)
    poster = _ensure_poster(poster, shown=shown, sharer=member.nickname)
    product = shown.product
    price = f"¥{yuan_text(shown.price_fen)}{'起' if shown.price_varies else ''}"
    return ProductShare(title=f"{price}｜{product.name}"[:60], image=product.main_image.name or "",
                        path=f"{settings.DISTRIBUTION_PRODUCT_PAGE}?id={product_id}&{poster.scene.partition('&')[2]}",
                        scene=poster.scene, poster=poster)


def _shown(product_id: int) -> _Shown:
    product = Product.objects.filter(pk=product_id, is_on_shelf=True).first()
    if product is None:
        raise ProductUnavailable(code="product_not_found", status=404, detail={"product_id": product_id})
    prices = list(Sku.objects.filter(product_id=product_id, is_active=True)
                  .values_list("price_fen", "original_price_fen"))
    lowest = min((p for p, _ in prices), default=product.min_price_fen)
    original = max((o for p, o in prices if p == lowest), default=0)
    return _Shown(product=product, price_fen=lowest, price_varies=len({p for p, _ in prices}) > 1,
                  original_price_fen=original if original > lowest else 0)


def _sharer(member: Member) -> tuple[str, int]:
    distributor_id = (Distributor.objects.filter(member=member, status=DistributorStatus.ACTIVE)
                      .values_list("pk", flat=True).first())
    if distributor_id is not None:
        return SharerKind.DISTRIBUTOR, distributor_id
    return SharerKind.MEMBER, member.pk


def _row(*, product_id: int, kind: str, sharer_id: int) -> ProductPoster:
    """The (product, sharer)'s poster row; the first time, with its scene (and a member's share)."""
    row = ProductPoster.objects.filter(product_id=product_id, sharer_kind=kind, sharer_id=sharer_id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            if kind == SharerKind.DISTRIBUTOR:
                scene = f"p={product_id}&d={sharer_id}"
            else:
                share = share_create(member_id=sharer_id, kind=ShareKind.PRODUCT, target=str(product_id))
                scene = f"p={product_id}&s={share.share_no}"
            return ProductPoster.objects.create(product_id=product_id, sharer_kind=kind, sharer_id=sharer_id,
                                                scene=scene)
    except IntegrityError:  # a concurrent request made it
        return ProductPoster.objects.get(product_id=product_id, sharer_kind=kind, sharer_id=sharer_id)


def _ensure_code(poster: ProductPoster) -> ProductPoster:
    if poster.code:
        return poster
    png = get_wxacode_unlimit(scene=poster.scene, page=settings.DISTRIBUTION_PRODUCT_PAGE)
    storage = poster.code.storage
    name = storage.save(poster.code.field.generate_filename(poster, f"{poster.product_id}-{poster.pk}.png"),
                        ContentFile(png))
    with transaction.atomic():
        attached = ProductPoster.objects.filter(pk=poster.pk, code="").update(code=name)
    if not attached:
        storage.delete(name)
    return ProductPoster.objects.get(pk=poster.pk)


def poster_version(*, shown: _Shown, sharer: str, brand: str) -> str:
    """A fingerprint of everything the poster shows: a new one means the poster must be drawn again."""
    product = shown.product
    parts = [product.name, product.subtitle, str(shown.price_fen), str(shown.price_varies),
             str(shown.original_price_fen), product.main_image.name or "", sharer, brand]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _ensure_poster(poster: ProductPoster, *, shown: _Shown, sharer: str) -> ProductPoster:
    brand = settings.DISTRIBUTION_POSTER_BRAND
    version = poster_version(shown=shown, sharer=sharer, brand=brand)
    if poster.poster and poster.version == version:
        return poster
    product = shown.product
    image_bytes = None
    if product.main_image and default_storage.exists(product.main_image.name):
        with default_storage.open(product.main_image.name, "rb") as image:
            image_bytes = image.read()
    with poster.code.open("rb") as code:
        code_png = code.read()
    original = f"¥{yuan_text(shown.original_price_fen)}" if shown.original_price_fen else ""
    png = product_poster_render(ProductPosterContent(
        product_name=product.name, subtitle=product.subtitle, price=f"¥{yuan_text(shown.price_fen)}",
        price_note="起" if shown.price_varies else "", original_price=original, image_png=image_bytes,
        sharer=sharer, code_png=code_png, code_caption=("长按识别小程序码", "查看商品详情"), brand=brand))
    storage = poster.poster.storage
    name = storage.save(poster.poster.field.generate_filename(poster, f"{poster.product_id}-{version}.png"),
                        ContentFile(png))
    old = poster.poster.name
    with transaction.atomic():
        # Only over the version this request read: a concurrent request that drew the same version first wins.
        stored = ProductPoster.objects.filter(pk=poster.pk, version=poster.version, poster=old).update(
            poster=name, version=version)
    if stored and old:
        storage.delete(old)
    elif not stored:
        storage.delete(name)
    return ProductPoster.objects.get(pk=poster.pk)


def product_posters_forget_member(*, member_id: int) -> int:
    """注销: the posters naming a deleted member (as a member or as a distributor) go, files after
    the commit (settings.MEMBER_DELETED_HOOKS). Returns how many went."""
    distributor_ids = list(Distributor.objects.filter(member_id=member_id).values_list("pk", flat=True))
    rows = ProductPoster.objects.filter(sharer_kind=SharerKind.MEMBER, sharer_id=member_id) | \
        ProductPoster.objects.filter(sharer_kind=SharerKind.DISTRIBUTOR, sharer_id__in=distributor_ids)
    with transaction.atomic():
        names = [field.name for row in rows for field in (row.code, row.poster) if field]
        deleted, _ = rows.delete()
        storage = ProductPoster._meta.get_field("poster").storage  # type: ignore[union-attr]

        def delete_files() -> None:
            for name in names:
                storage.delete(name)

        transaction.on_commit(delete_files)
    return deleted
