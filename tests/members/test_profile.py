"""The profile members fill in: the once-only birthday, customer service changes, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.errors import DomainError
from members.errors import BirthdayLocked
from members.models import Member, MemberAudit, MemberAuditAction
from members.services import member_birthday_change_by_operator, member_profile_update
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_the_member_sets_gender_birthday_and_region(shopper):
    response = shopper.client.patch("/api/v1/me", {"gender": "female", "birthday": "1995-02-28",
                                                   "province": "广东省", "city": "深圳市"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["gender"], body["birthday"], body["province"], body["city"], body["birthday_editable"]) == (
        "female", "1995-02-28", "广东省", "深圳市", False)
    member = Member.objects.get(pk=shopper.member.pk)
    assert member.birthday == dt.date(1995, 2, 28)
    assert member.birthday_set_at is not None


def test_a_second_birthday_is_refused_and_nothing_of_the_request_is_saved(shopper):
    shopper.client.patch("/api/v1/me", {"birthday": "1995-02-28"}, format="json")

    response = shopper.client.patch("/api/v1/me", {"birthday": "1996-03-01", "nickname": "改名了"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "birthday_locked"
    assert response.json()["message"] == "生日设置后不可修改，如需修改请联系客服"
    member = Member.objects.get(pk=shopper.member.pk)
    assert (member.birthday, member.nickname) == (dt.date(1995, 2, 28), shopper.member.nickname)


def test_sending_the_same_birthday_again_is_not_a_change(shopper):
    shopper.client.patch("/api/v1/me", {"birthday": "1995-02-28"}, format="json")
    set_at = Member.objects.get(pk=shopper.member.pk).birthday_set_at

    response = shopper.client.patch("/api/v1/me", {"birthday": "1995-02-28", "city": "广州市"}, format="json")

    assert response.status_code == 200
    member = Member.objects.get(pk=shopper.member.pk)
    assert (member.city, member.birthday_set_at) == ("广州市", set_at)


def test_a_set_birthday_cannot_be_cleared_by_the_member(shopper):
    shopper.client.patch("/api/v1/me", {"birthday": "1995-02-28"}, format="json")

    response = shopper.client.patch("/api/v1/me", {"birthday": None}, format="json")

    assert response.status_code == 409
    assert Member.objects.get(pk=shopper.member.pk).birthday == dt.date(1995, 2, 28)


@pytest.mark.parametrize("body", [
    {"birthday": "2999-01-01"},
    {"birthday": "1899-12-31"},
    {"birthday": "not a date"},
    {"gender": "robot"},
    {"province": "省" * 33},
])
def test_bad_profile_input_is_a_400_and_changes_nothing(shopper, body):
    before = Member.objects.filter(pk=shopper.member.pk).values().get()

    response = shopper.client.patch("/api/v1/me", body, format="json")

    assert response.status_code == 400
    assert Member.objects.filter(pk=shopper.member.pk).values().get() == before


def test_a_future_birthday_has_its_own_code(shopper):
    response = shopper.client.patch("/api/v1/me", {"birthday": "2999-01-01"}, format="json")

    assert response.json()["code"] == "invalid_birthday"


@pytest.mark.django_db(transaction=True)
def test_two_devices_setting_different_birthdays_at_once_leave_one():
    member = MemberFactory.create()
    days = [dt.date(1990, 1, 1), dt.date(1991, 6, 15)]

    results = run_concurrently(lambda i: member_profile_update(member=Member.objects.get(pk=member.pk),
                                                                 changes={"birthday": days[i]}), 2)

    assert sorted(type(r).__name__ for r in results) == ["BirthdayLocked", "Member"]
    winner = next(r for r in results if isinstance(r, Member))
    assert Member.objects.get(pk=member.pk).birthday == winner.birthday


def test_customer_service_changes_a_locked_birthday_with_an_audit_row():
    operator = get_user_model().objects.create_user("kefu", password="x")
    member = MemberFactory.create(birthday=dt.date(1990, 1, 1), birthday_set_at=timezone.now())

    member_birthday_change_by_operator(member_id=member.pk, birthday=dt.date(1990, 10, 1),
                                       note="会员来电，身份证核实", operator=operator)

    member.refresh_from_db()
    assert member.birthday == dt.date(1990, 10, 1)
    audit = MemberAudit.objects.get(member=member)
    assert (audit.action, audit.changes, audit.note, audit.operator_id) == (
        MemberAuditAction.BIRTHDAY_CHANGED, {"birthday": ["1990-01-01", "1990-10-01"]}, "会员来电，身份证核实",
        operator.pk)
    with pytest.raises(BirthdayLocked):  # still locked for the member
        member_profile_update(member=member, changes={"birthday": dt.date(1990, 1, 2)})


def test_customer_service_must_give_a_reason():
    member = MemberFactory.create(birthday=dt.date(1990, 1, 1), birthday_set_at=timezone.now())

    with pytest.raises(DomainError) as caught:
        member_birthday_change_by_operator(member_id=member.pk, birthday=dt.date(1990, 10, 1), note="  ",
                                           operator=None)

    assert caught.value.code == "note_required"
    member.refresh_from_db()
    assert member.birthday == dt.date(1990, 1, 1)
    assert not MemberAudit.objects.exists()
