"""core.compiled.CompiledQuery answers what its queryset answers, for every shape of arguments,
compiling each shape once, and refuses a queryset whose argument does not reach the SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.compiled import CompiledQuery, CompiledQueryError
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _members(*, ids: list[int], since: dt.datetime, nickname: str | None):
    rows = Member.objects.filter(pk__in=ids, registered_at__gte=since)
    if nickname is not None:
        rows = rows.filter(nickname=nickname)
    return rows.order_by("pk").values_list("pk", "nickname", "registered_at")


def test_the_rows_are_the_querysets_for_every_shape_and_each_shape_compiles_once():
    a, b, c = (MemberFactory.create(nickname=name) for name in ("甲", "乙", "丙"))
    query = CompiledQuery(_members)
    since = timezone.now() - dt.timedelta(days=1)
    calls: list[dict[str, Any]] = [dict(ids=[a.pk, b.pk], since=since, nickname=None),
             dict(ids=[a.pk, b.pk, c.pk], since=since, nickname="乙"),
             dict(ids=[c.pk, a.pk], since=since, nickname=None),
             dict(ids=[a.pk], since=timezone.now() + dt.timedelta(days=1), nickname=None)]

    for arguments in calls:
        assert query.rows(**arguments) == list(_members(**arguments))

    assert len(query._shapes) == 3  # two ids, three ids with a nickname, one id
    with CaptureQueriesContext(connection) as ctx:
        query.rows(ids=[b.pk, c.pk], since=since, nickname=None)
    assert len(ctx.captured_queries) == 1


def test_an_argument_the_queryset_does_not_send_as_a_parameter_is_refused():
    # icontains sends "%<value>%": the value itself is nowhere among the parameters
    query = CompiledQuery(lambda *, part: Member.objects.filter(nickname__icontains=part).values_list("pk"))

    with pytest.raises(CompiledQueryError):
        query.rows(part="甲")
