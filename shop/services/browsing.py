"""Favourites (收藏) and footprints (浏览足迹): a member's own rows, addressed by their ids, so
another member's id is simply not found (404)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.errors import ProductUnavailable
from catalog.models import Product
from members.models import Member
from shop.errors import FavouriteNotFound, FootprintNotFound
from shop.models import Favourite, Footprint


def _product_on_shelf(product_id: int) -> None:
    if not Product.objects.filter(pk=product_id, is_on_shelf=True).exists():
        raise ProductUnavailable(code="product_not_found", status=404, detail={"product_id": product_id})


def favourite_add(*, member: Member, product_id: int) -> tuple[Favourite, bool]:
    """Save an on-shelf product (404 product_not_found otherwise). Idempotent: saving it again
    returns the first row and False; a double tap that races makes one row (the unique constraint)."""
    _product_on_shelf(product_id)
    existing = Favourite.objects.filter(member=member, product_id=product_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Favourite.objects.create(member=member, product_id=product_id), True
    except IntegrityError:
        return Favourite.objects.get(member=member, product_id=product_id), False


def favourite_remove(*, member: Member, favourite_id: int) -> None:
    """Delete one of the member's favourites; FavouriteNotFound (404) for anyone else's or an unknown id."""
    deleted, _ = Favourite.objects.filter(member=member, pk=favourite_id).delete()
    if not deleted:
        raise FavouriteNotFound(detail={"favourite_id": favourite_id})


def footprint_record(*, member: Member, product_id: int, now: dt.datetime) -> None:
    """Note that the member opened the product's page now: one row per product, moved to the top
    on each visit; past settings.FOOTPRINTS_KEPT rows the oldest go. The caller has checked the product."""
    with transaction.atomic():
        # One INSERT … ON CONFLICT DO UPDATE: two pages opened at once make one row, never a 500.
        Footprint.objects.bulk_create([Footprint(member=member, product_id=product_id, viewed_at=now)],
                                      update_conflicts=True, unique_fields=["member", "product"],
                                      update_fields=["viewed_at"])
        stale = list(Footprint.objects.filter(member=member).order_by("-viewed_at", "-id")
                     .values_list("pk", flat=True)[settings.FOOTPRINTS_KEPT:])
        if stale:
            Footprint.objects.filter(pk__in=stale).delete()


def footprint_remove(*, member: Member, footprint_id: int) -> None:
    """Delete one of the member's footprints; FootprintNotFound (404) for anyone else's or an unknown id."""
    deleted, _ = Footprint.objects.filter(member=member, pk=footprint_id).delete()
    if not deleted:
        raise FootprintNotFound(detail={"footprint_id": footprint_id})


def footprints_clear(*, member: Member) -> int:
    """Delete every footprint of the member; how many went."""
    deleted, _ = Footprint.objects.filter(member=member).delete()
    return deleted


def browsing_forget_member(*, member_id: int) -> int:
    """注销: a deleted member's favourites and footprints go at once (settings.MEMBER_DELETED_HOOKS)."""
    favourites, _ = Favourite.objects.filter(member_id=member_id).delete()
    footprints, _ = Footprint.objects.filter(member_id=member_id).delete()
    return favourites + footprints
