"""Reads about greetings, scoped by the member who asks."""

from __future__ import annotations

from django.db.models import QuerySet

from campaigns.models import Greeting
from core.errors import NotFound
from members.models import Member


class GreetingNotFound(NotFound):
    code = "greeting_not_found"
    message = "祝福海报不存在"


def greeting_list_for_member(*, member: Member) -> QuerySet[Greeting]:
    """The member's greetings, newest first, with their coupons."""
    return (Greeting.objects.filter(member=member).select_related("member", "coupon__template")
            .order_by("-day", "-id"))


def greeting_for_member(*, member: Member, greeting_id: int) -> Greeting:
    """The member's own greeting (with what its poster shows); GreetingNotFound (404) for anyone else's."""
    greeting = (Greeting.objects.filter(member=member, pk=greeting_id)
                .select_related("member", "coupon__template").first())
    if greeting is None:
        raise GreetingNotFound()
    return greeting
