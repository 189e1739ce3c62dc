"""A review earns growth (the growth rule's per review) and POINTS_PER_REVIEW points once, when it is
published; an operator hiding it takes them back once. Text goes through the sandbox's msgSecCheck."""

from __future__ import annotations

import pytest
from django.conf import settings

from members.models import GrowthEntry, GrowthRule, Member, PointsEntry, PointsKind
from members.services import points_spend
from shop.models import Review, ReviewStatus
from shop.services.reviews import review_auto_positive, review_create, review_hide, review_publish
from tests.builders import operator, received_order
from tests.factories import SkuFactory
from tests.fixtures import make_shopper


@pytest.fixture(autouse=True)
def defaults(db, freight, settings):
    # Buying earns nothing here, so the ledgers hold exactly what the reviews earn.
    GrowthRule.objects.filter(pk=1).update(per_review=15, per_yuan=0)
    settings.POINTS_PER_REVIEW = 20
    settings.POINTS_PURCHASE_PER_YUAN = 0


@pytest.fixture
def reviewer(db, sandbox):
    return make_shopper(openid=sandbox.login_code()["openid"])


def rewards(member: Member) -> tuple[int, int, list[tuple[str, int]], list[tuple[str, int]]]:
    member = Member.objects.get(pk=member.pk)
    points = list(PointsEntry.objects.filter(member=member).order_by("id").values_list("kind", "delta"))
    growth = list(GrowthEntry.objects.filter(member=member).order_by("id").values_list("reason", "delta"))
    return member.points_balance, member.growth, points, growth


def test_a_published_review_earns_once_and_hiding_it_takes_that_back_once(reviewer):
    line = received_order(member=reviewer.member, lines=[(SkuFactory.create(stock=5), 1)]).lines.get()
    ops = operator("ops")

    review = review_create(member=reviewer.member, line_id=line.pk, rating=5, content="质量很好，推荐")

    assert review.status == ReviewStatus.PUBLISHED
    assert rewards(reviewer.member) == (20, 15, [(PointsKind.REVIEW, 20)], [("review", 15)])
    assert PointsEntry.objects.get(kind=PointsKind.REVIEW).reference == f"review:{review.pk}"

    review_publish(review_id=review.pk, operator=ops)  # already published: nothing
    review_hide(review_id=review.pk, operator=ops, reason="广告")
    review_hide(review_id=review.pk, operator=ops)  # a repeat: nothing

    assert rewards(reviewer.member) == (0, 0, [(PointsKind.REVIEW, 20), (PointsKind.REVERSAL, -20)],
                                        [("review", 15), ("refund", -15)])

    review_publish(review_id=review.pk, operator=ops)  # shown again: the reward is not given twice
    assert rewards(reviewer.member)[:2] == (0, 0)
    assert PointsEntry.objects.filter(member=reviewer.member).count() == 2


def test_a_review_waiting_for_an_operator_earns_when_published(reviewer):
    line = received_order(member=reviewer.member, lines=[(SkuFactory.create(stock=5), 1)]).lines.get()

    review = review_create(member=reviewer.member, line_id=line.pk, rating=3, content="一般般，待审的说法")

    assert review.status == ReviewStatus.PENDING
    assert rewards(reviewer.member) == (0, 0, [], [])

    review_publish(review_id=review.pk, operator=operator("ops"))

    assert rewards(reviewer.member)[:2] == (settings.POINTS_PER_REVIEW, 15)


def test_a_pending_review_the_operator_hides_never_earns(reviewer):
    line = received_order(member=reviewer.member, lines=[(SkuFactory.create(stock=5), 1)]).lines.get()
    review = review_create(member=reviewer.member, line_id=line.pk, rating=1, content="待审的说法")

    review_hide(review_id=review.pk, operator=operator("ops"))

    assert Review.objects.get(pk=review.pk).status == ReviewStatus.HIDDEN
    assert rewards(reviewer.member) == (0, 0, [], [])


def test_hiding_a_review_whose_points_were_spent_takes_what_is_left(reviewer):
    line = received_order(member=reviewer.member, lines=[(SkuFactory.create(stock=5), 1)]).lines.get()
    review = review_create(member=reviewer.member, line_id=line.pk, rating=5, content="很好")
    points_spend(member_id=reviewer.member.pk, points=15, reference="mall:1")

    review_hide(review_id=review.pk, operator=operator("ops"))

    reversal = PointsEntry.objects.get(member=reviewer.member, kind=PointsKind.REVERSAL)
    assert (reversal.delta, reversal.shortfall) == (-5, 15)
    assert rewards(reviewer.member)[:2] == (0, 0)


def test_the_automatic_five_star_review_earns_nothing(reviewer):
    received_order(member=reviewer.member, lines=[(SkuFactory.create(stock=5), 1)])
    from shop.models import Order

    Order.objects.filter(member=reviewer.member).update(received_at="2020-01-01T00:00:00+08:00")

    assert review_auto_positive() == 1
    assert rewards(reviewer.member) == (0, 0, [], [])
