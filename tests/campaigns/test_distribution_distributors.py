"""Becoming a distributor: applying (指定分销), the operators' review with the applicant told, and
the automatic modes (人人分销, 满额分销). Bad answers change nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from campaigns.errors import (
    DistributionThresholdNotMet,
    DistributorAlreadyActive,
    DistributorApplicationInvalid,
    DistributorApplicationPending,
    ReasonRequired,
)
from campaigns.models import Distributor, DistributorApplication, DistributorEvent
from campaigns.models.commissions import EntryReason
from campaigns.models.distribution import DistributionMode
from campaigns.selectors.privacy import campaign_export_sections
from campaigns.services.commissions import Moves, ledger_move
from campaigns.services.distribution import (
    ApplicationInput,
    distributor_apply,
    distributor_approve,
    distributor_ensure,
    distributor_reject,
)
from members.errors import MemberDeletionBlocked
from members.models import Member
from members.services.profile import member_delete_account
from tests.builders import buyer
from tests.campaigns.support_distribution import reviewer, rules
from wechat.models import MessageLog

pytestmark = pytest.mark.django_db

ANSWERS = ApplicationInput(real_name="李分销", phone="13900139000", reason="宝妈群主")


@pytest.mark.parametrize(("answers", "field"), [
    (ApplicationInput(real_name="", phone="13900139000"), "real_name"),
    (ApplicationInput(real_name="李分销", phone="1390013"), "phone"),
    (ApplicationInput(real_name="李分销", phone="13900139000", extra={}), "wechat"),
])
def test_bad_answers_are_refused_and_store_nothing(answers, field):
    rules(application_fields=[{"key": "wechat", "label": "微信号", "required": True}])

    with pytest.raises(DistributorApplicationInvalid) as caught:
        distributor_apply(member=buyer(), data=answers)

    assert caught.value.detail == {"field": field}
    assert not Distributor.objects.exists()


def test_an_application_waits_for_review_and_approval_tells_the_applicant():
    member = buyer()
    applied = distributor_apply(member=member, data=ApplicationInput(real_name="李分销", phone="13900139000",
                                                                     extra={"wechat": "li-fx", "junk": "x"}))
    with pytest.raises(DistributorApplicationPending):
        distributor_apply(member=member, data=ANSWERS)
    assert applied.status == "applying"
    assert DistributorApplication.objects.get().extra == {}  # no such question configured

    approved = distributor_approve(distributor_id=applied.pk, operator=reviewer())
    distributor_approve(distributor_id=applied.pk, operator=reviewer())

    assert (approved.status, approved.real_name) == ("active", "李分销")
    assert DistributorApplication.objects.get().outcome == "approved"
    assert list(DistributorEvent.objects.filter(distributor=applied).values_list("action", flat=True)) == [
        "applied", "approved"]
    log = MessageLog.objects.get(member_id=member.pk, template_key="distributor_review")
    assert log.outcome == "no_credit"  # the applicant gave no consent for this template
    with pytest.raises(DistributorAlreadyActive):
        distributor_apply(member=member, data=ANSWERS)


def test_a_rejection_needs_a_reason_and_the_member_may_apply_again():
    member = buyer()
    applied = distributor_apply(member=member, data=ANSWERS)
    with pytest.raises(ReasonRequired):
        distributor_reject(distributor_id=applied.pk, operator=reviewer(), reason="  ")
    assert Distributor.objects.get(pk=applied.pk).status == "applying"

    rejected = distributor_reject(distributor_id=applied.pk, operator=reviewer(), reason="资料不完整")
    again = distributor_apply(member=member, data=ANSWERS)

    assert (rejected.status, rejected.reject_reason) == ("rejected", "资料不完整")
    assert again.status == "applying"
    assert list(DistributorApplication.objects.order_by("id").values_list("outcome", "reject_reason")) == [
        ("rejected", "资料不完整"), ("", "")]


def test_everyone_mode_makes_any_member_a_distributor_at_once():
    rules(mode=DistributionMode.EVERYONE)
    member = buyer()

    distributor = distributor_ensure(member=member)

    assert distributor is not None
    assert (distributor.status, distributor.source) == ("active", "everyone")
    again = distributor_ensure(member=member)
    assert again is not None
    assert again.pk == distributor.pk


def test_threshold_mode_waits_for_the_paid_total():
    rules(mode=DistributionMode.THRESHOLD, threshold_fen=50000)
    member = buyer()
    Member.objects.filter(pk=member.pk).update(paid_total_fen=49999)

    assert distributor_ensure(member=member) is None
    with pytest.raises(DistributionThresholdNotMet):
        distributor_apply(member=member, data=ANSWERS)

    Member.objects.filter(pk=member.pk).update(paid_total_fen=50000)
    distributor = distributor_ensure(member=member)
    assert distributor is not None
    assert (distributor.status, distributor.source) == ("active", "threshold")


def test_deleting_an_account_waits_for_withdrawable_money_then_freezes_and_masks_the_distributor(
        django_capture_on_commit_callbacks):
    d = distributor_approve(distributor_id=distributor_apply(member=buyer(), data=ANSWERS).pk, operator=reviewer())
    with transaction.atomic():
        ledger_move(distributor_id=d.pk, reason=EntryReason.SETTLED, reference="seed", moves=Moves(available_fen=1230))

    with pytest.raises(MemberDeletionBlocked) as blocked:
        member_delete_account(member_id=d.member_id)
    assert blocked.value.detail["unfinished"] == ["可提现佣金 ¥12.30，请先提现"]
    assert campaign_export_sections(member_id=d.member_id)["distribution"]["distributor"]["real_name"] == "李分销"

    Distributor.objects.filter(pk=d.pk).update(available_fen=0)  # withdrawn meanwhile
    with django_capture_on_commit_callbacks(execute=True):
        member_delete_account(member_id=d.member_id)

    gone = Distributor.objects.get(pk=d.pk)
    assert (gone.status, gone.freeze_reason, gone.real_name, gone.phone) == (
        "frozen", "会员已注销", "李**", "139****9000")
    assert list(DistributorApplication.objects.values_list("real_name", "phone", "reason")) == [("李**", "", "")]
