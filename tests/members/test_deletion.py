"""注销: personal data anonymised, orders and ledgers kept, the WeChat account free to register anew."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from members.models import Address, Member, MemberAudit, MemberTag, MemberToken, PointsEntry, PointsKind, Tag
from members.services import member_delete_account
from members.services.points import points_award
from shop.models import Order, OrderStatus
from tests.builders import order_up_to
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db


def _personal(shopper) -> None:
    Member.objects.filter(pk=shopper.member.pk).update(
        nickname="小鱼", avatar_url="https://example.com/a.png", phone="13800001111", gender="female",
        birthday=dt.date(1995, 2, 28), birthday_set_at=timezone.now(), province="广东省", city="深圳市",
        unionid="union-1", session_key="secret")
    MemberTag.objects.create(member=shopper.member, tag=Tag.objects.create(name="高价值"))


def test_deleting_the_account_anonymises_it_and_keeps_orders_and_ledgers(shopper):
    _personal(shopper)
    # A finished order (an unfinished one holds the deletion up: tests/shop/test_privacy.py).
    order = order_up_to(OrderStatus.CANCELLED, member=shopper.member, lines=[(SkuFactory.create(stock=5), 1)])
    points_award(member_id=shopper.member.pk, points=300, kind=PointsKind.PURCHASE, reference=order.order_no)

    response = shopper.client.delete("/api/v1/me")

    assert response.status_code == 204
    member = Member.objects.get(pk=shopper.member.pk)
    assert (member.nickname, member.avatar_url, member.phone, member.gender, member.birthday, member.province,
            member.city, member.unionid, member.session_key, member.is_active) == (
        "已注销用户", "", "", "unknown", None, "", "", "", "", False)
    assert member.openid.startswith(f"deleted:{member.pk}:")
    assert member.deleted_at is not None
    assert not Address.objects.filter(member=member).exists()
    assert not MemberTag.objects.filter(member=member).exists()
    assert not MemberToken.objects.filter(member=member, revoked_at__isnull=True).exists()
    # The books stay: the order and the points ledger still point at the (anonymous) member.
    assert Order.objects.get(pk=order.pk).member_id == member.pk
    assert list(PointsEntry.objects.filter(member=member).values_list("delta", flat=True)) == [300]
    assert member.points_balance == 300
    assert MemberAudit.objects.filter(member=member, action="deleted").count() == 1


def test_the_token_stops_working_after_deletion(shopper):
    shopper.client.delete("/api/v1/me")

    response = shopper.client.get("/api/v1/me")

    assert response.status_code == 401


def test_deleting_twice_changes_nothing_the_second_time(shopper):
    first = member_delete_account(member_id=shopper.member.pk)
    before = Member.objects.filter(pk=shopper.member.pk).values().get()

    again = member_delete_account(member_id=shopper.member.pk)

    assert again.openid == first.openid
    assert Member.objects.filter(pk=shopper.member.pk).values().get() == before
    assert MemberAudit.objects.filter(member_id=shopper.member.pk).count() == 1


def test_the_same_wechat_account_registers_anew_after_deletion(client, sandbox, shopper):
    code = sandbox.login_code(openid=shopper.member.openid)["code"]
    member_delete_account(member_id=shopper.member.pk)

    response = client.post("/api/v1/auth/wechat/login", {"code": code}, content_type="application/json")

    assert response.status_code == 200
    body = response.json()
    assert body["is_new_member"] is True
    assert body["member"]["id"] != shopper.member.pk


def test_deleting_does_not_touch_other_members(shopper, other_shopper):
    before = Member.objects.filter(pk=other_shopper.member.pk).values().get()

    shopper.client.delete("/api/v1/me")

    assert Member.objects.filter(pk=other_shopper.member.pk).values().get() == before
    assert Address.objects.filter(member=other_shopper.member).count() == 1
