"""Who belongs to whom (分销关系): the binding rules — never oneself, never a cycle, never under a
frozen distributor, new members only when the settings say so, expiry, later scans, the console's
改绑 — and commission never reaching a third level."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.errors import BindingRefused, ReasonRequired
from campaigns.models import Binding, BindingEvent, Commission
from campaigns.models.distribution import BindingScope, BindingStatus
from campaigns.services.bindings import binding_bind_on_arrival, binding_rebind
from campaigns.services.distribution import distributor_freeze
from members.models import Member
from tests.builders import buyer, paid_order
from tests.campaigns.support_distribution import bind, distributor, near_member, reviewer, rules
from tests.factories import SkuFactory, default_freight

pytestmark = pytest.mark.django_db


def upline_ids(member: Member) -> list[int]:
    return list(Binding.objects.filter(member=member, status=BindingStatus.ACTIVE).values_list("distributor_id",
                                                                                               flat=True))


def refused(code: str, **kwargs) -> None:
    with pytest.raises(BindingRefused) as caught:
        binding_bind_on_arrival(**kwargs)
    assert caught.value.code == code


def test_a_new_member_arriving_through_a_share_is_bound_for_thirty_days_once():
    sharer = distributor()
    newcomer = buyer()

    first = bind(newcomer, sharer, source="product", share_ref="product:7")
    again = bind(newcomer, sharer)

    assert again.pk == first.pk
    assert (first.source, first.share_ref, first.status) == ("product", "product:7", BindingStatus.ACTIVE)
    assert first.expires_at is not None
    assert abs((first.expires_at - first.bound_at) - dt.timedelta(days=30)) < dt.timedelta(seconds=1)
    assert list(BindingEvent.objects.filter(binding=first).values_list("action", flat=True)) == ["bound"]


def test_nobody_binds_under_themselves_or_into_a_cycle():
    a, b = distributor(name="张甲"), distributor(name="张乙")
    c = distributor(name="张丙")
    bind(near_member(b), a)  # b under a
    bind(near_member(c), b)  # c under b

    refused("binding_self", member=near_member(a), distributor_id=a.pk)
    refused("binding_cycle", member=near_member(a), distributor_id=b.pk)  # a under b under a
    refused("binding_cycle", member=near_member(a), distributor_id=c.pk)  # a under c under b under a
    assert upline_ids(near_member(a)) == []


def test_a_frozen_or_unapproved_distributor_binds_nobody():
    frozen = distributor()
    distributor_freeze(distributor_id=frozen.pk, operator=reviewer(), reason="违规推广")

    refused("binding_distributor_inactive", member=buyer(), distributor_id=frozen.pk)
    assert Binding.objects.count() == 0


def test_a_member_with_an_upline_keeps_it_unless_later_scans_override():
    first, second = distributor(name="张先"), distributor(name="张后")
    shopper = buyer()
    bind(shopper, first)

    refused("binding_has_upline", member=shopper, distributor_id=second.pk)
    assert upline_ids(shopper) == [first.pk]

    rules(later_scan_overrides=True)
    bind(shopper, second)
    assert upline_ids(shopper) == [second.pk]
    ended = Binding.objects.get(member=shopper, distributor=first)
    assert (ended.status, ended.end_reason) == (BindingStatus.ENDED, "overridden")


def test_new_members_only_refuses_a_member_who_has_paid_or_was_bound_before():
    rules(binding_scope=BindingScope.NEW_ONLY, binding_days=1)
    default_freight()
    sharer = distributor()
    customer = buyer()
    paid_order(member=customer, lines=[(SkuFactory.create(stock=5), 1)])
    returning = buyer()
    bind(returning, sharer, now=timezone.now() - dt.timedelta(days=2))  # expired since

    refused("binding_not_new", member=customer, distributor_id=sharer.pk)
    refused("binding_not_new", member=returning, distributor_id=sharer.pk)
    assert bind(buyer(), sharer).status == BindingStatus.ACTIVE


def test_an_expired_binding_earns_nothing_and_frees_the_member_for_another_share():
    rules(binding_days=30)
    default_freight()
    old, new = distributor(name="张旧"), distributor(name="张新")
    shopper = buyer()
    bind(shopper, old, now=timezone.now() - dt.timedelta(days=31))

    order = paid_order(member=shopper, lines=[(SkuFactory.create(stock=5), 1)])
    assert not Commission.objects.filter(order_ref=order.order_no).exists()

    bind(shopper, new)
    assert upline_ids(shopper) == [new.pk]
    assert Binding.objects.get(member=shopper, distributor=old).end_reason == "expired"


def test_a_permanent_binding_never_expires():
    rules(binding_days=None)
    assert bind(buyer(), distributor()).expires_at is None


def test_commission_stops_at_the_second_level_however_long_the_chain():
    default_freight()
    third, second, first = distributor(name="张三"), distributor(name="张二"), distributor(name="张一")
    bind(near_member(second), third)
    bind(near_member(first), second)
    shopper = buyer()
    bind(shopper, first)

    order = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=10000, stock=5), 1)])

    assert sorted(Commission.objects.filter(order_ref=order.order_no).values_list("level", "distributor_id")) == [
        (1, first.pk), (2, second.pk)]


def test_one_level_settings_pay_only_the_direct_upline():
    rules(levels=1)
    default_freight()
    second, first = distributor(name="张二"), distributor(name="张一")
    bind(near_member(first), second)
    shopper = buyer()
    bind(shopper, first)

    order = paid_order(member=shopper, lines=[(SkuFactory.create(price_fen=10000, stock=5), 1)])

    assert list(Commission.objects.filter(order_ref=order.order_no).values_list("level", "distributor_id")) == [
        (1, first.pk)]


def test_an_operator_rebinds_with_a_reason_and_both_bindings_keep_the_audit():
    old, new = distributor(name="张旧"), distributor(name="张新")
    shopper = buyer()
    bind(shopper, old)

    with pytest.raises(ReasonRequired):
        binding_rebind(member_id=shopper.pk, distributor_id=new.pk, operator=reviewer(), reason=" ")
    assert upline_ids(shopper) == [old.pk]

    binding_rebind(member_id=shopper.pk, distributor_id=new.pk, operator=reviewer(), reason="客服核实为新分销员推荐")

    assert upline_ids(shopper) == [new.pk]
    ended = BindingEvent.objects.get(binding__distributor=old, action="rebound")
    started = BindingEvent.objects.get(binding__distributor=new, action="bound")
    assert (ended.note, ended.operator_id) == ("客服核实为新分销员推荐", reviewer().pk)
    assert (started.actor, started.note) == ("operator", "客服核实为新分销员推荐")
