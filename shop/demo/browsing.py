"""Demo favourites (收藏) and footprints (浏览足迹) for the first demo members, made through the
browsing services, so 我的收藏 and 浏览足迹 are not empty in the demo. Idempotent: a member who
already has favourites is left as they are."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from catalog.models import Product
from members.models import Member
from shop.models import Favourite
from shop.services.browsing import favourite_add, footprint_record

MEMBERS = 3
FAVOURITES = 3
FOOTPRINTS = 6


def load_browsing_demo(*, members: list[Member]) -> int:
    """Favourites and footprints for the first demo members; how many members got them now."""
    product_ids = list(Product.objects.filter(is_on_shelf=True).order_by("-sales_count", "id")
                       .values_list("pk", flat=True)[:FOOTPRINTS + MEMBERS])
    done = 0
    now = timezone.now()
    for offset, member in enumerate(members[:MEMBERS]):
        if not product_ids or Favourite.objects.filter(member=member).exists():
            continue
        mine = product_ids[offset:offset + FOOTPRINTS]
        for minutes, product_id in enumerate(reversed(mine)):
            footprint_record(member=member, product_id=product_id, now=now - dt.timedelta(minutes=minutes * 37))
        for product_id in mine[:FAVOURITES]:
            favourite_add(member=member, product_id=product_id)
        done += 1
    return done
