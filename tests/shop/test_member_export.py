"""GET /api/v1/me/export: the member's copy of their personal information, and no one else's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import CouponSource
from campaigns.services.coupons import coupon_grant
from members.models import Member, PointsEntry, PointsKind, SignIn, Tag
from members.services import signin_today, tag_add
from shop.models import OrderStatus
from tests.builders import lines_of, order_up_to, requested_after_sale
from tests.factories import CouponTemplateFactory, SkuFactory
from tests.shop.support_reviews import make_review
from wechat.models import SubscribeConsent

pytestmark = pytest.mark.django_db


def history(member: Member, *, orders: int, tag: Tag) -> list[str]:
    """Orders (received, one with an after-sale and a review), points, a sign-in, a coupon, a tag and
    a consent for `member`; the order numbers."""
    Member.objects.filter(pk=member.pk).update(nickname=f"会员{member.pk}", phone=f"1390000{member.pk:04d}",
                                               birthday=dt.date(1990, 1, 2))
    numbers = []
    for _ in range(orders):
        order = order_up_to(OrderStatus.RECEIVED, member=member, lines=[(SkuFactory.create(stock=5), 2)])
        numbers.append(order.order_no)
    first = order_up_to(OrderStatus.RECEIVED, member=member, lines=[(SkuFactory.create(stock=5), 1)])
    numbers.append(first.order_no)
    requested_after_sale(order=first, lines={lines_of(first)[0]: 1}, description="有划痕")
    make_review(lines_of(first)[0], content=f"评价{member.pk}")
    earlier = SignIn.objects.filter(member=member).count()
    signin_today(member=member, now=timezone.now() - dt.timedelta(days=earlier))
    coupon_grant(template=CouponTemplateFactory.create(name=f"券{member.pk}", per_member_limit=5), member=member,
                 source=CouponSource.CENTER)
    tag_add(tag=tag, member_ids=[member.pk], operator=None)
    SubscribeConsent.objects.create(member_id=member.pk, openid=member.openid, template_key="order_shipped",
                                    template_id=f"tpl-{member.pk}-{earlier}", credits=1, accepted_total=1,
                                    updated_at=timezone.now())
    return numbers


def test_the_export_holds_the_members_data_and_nothing_of_anyone_else(shopper, other_shopper, freight):
    tag = Tag.objects.create(name="高价值")
    mine = history(shopper.member, orders=1, tag=tag)
    theirs = history(other_shopper.member, orders=1, tag=tag)

    response = shopper.client.get("/api/v1/me/export")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = response.json()
    me = shopper.member
    assert (data["profile"]["id"], data["profile"]["nickname"], data["profile"]["phone"],
            data["profile"]["birthday"]) == (me.pk, f"会员{me.pk}", f"1390000{me.pk:04d}", "1990-01-02")
    assert [a["receiver_name"] for a in data["addresses"]] == ["张三"]
    assert [o["order_no"] for o in data["orders"]] == mine
    assert data["orders"][0]["receiver_phone"] == "13800138000"
    assert [line["quantity"] for line in data["orders"][0]["lines"]] == [2]
    assert [(a["order_no"], a["description"]) for a in data["after_sales"]] == [(mine[-1], "有划痕")]
    assert [r["content"] for r in data["reviews"]] == [f"评价{me.pk}"]
    ledger = list(PointsEntry.objects.filter(member=me).order_by("id").values_list("kind", "delta"))
    assert [(e["kind"], e["delta"]) for e in data["points_entries"]] == ledger
    assert PointsKind.PURCHASE in {kind for kind, _ in ledger}
    assert len(data["signins"]) == 1
    assert [c["name"] for c in data["coupons"]] == [f"券{me.pk}"]
    assert data["tags"] == ["高价值"]
    assert [s["template_key"] for s in data["subscriptions"]] == ["order_shipped"]
    # Nothing of the other member anywhere in the document.
    text = response.content.decode()
    other = other_shopper.member
    for trace in [*theirs, f"会员{other.pk}", f"1390000{other.pk:04d}", f"评价{other.pk}", f"券{other.pk}"]:
        assert trace not in text
    # Internal secrets are not part of the copy.
    assert me.openid not in text and shopper.token not in text


def test_the_export_needs_a_member(client):
    assert client.get("/api/v1/me/export").status_code == 401


def test_the_export_reads_a_fixed_number_of_queries(shopper, freight, django_assert_max_num_queries):
    tag = Tag.objects.create(name="高价值")
    history(shopper.member, orders=1, tag=tag)
    shopper.client.get("/api/v1/me/export")  # warm the content types
    with django_assert_max_num_queries(40) as few:
        shopper.client.get("/api/v1/me/export")
    budget = len(few.captured_queries)  # now: a later request empties the connection's query log
    history(shopper.member, orders=4, tag=tag)  # five more orders, another after-sale, review, coupon

    with django_assert_max_num_queries(budget):
        response = shopper.client.get("/api/v1/me/export")

    assert len(response.json()["orders"]) == 7
