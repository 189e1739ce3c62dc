"""Sending subscribe messages through the sandbox: credits, retries, 43101, the message log.

The task runs eagerly through `.apply()` (the real-worker run is in tests/shop/test_notifications.py);
WeChat is the sandbox over HTTP.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.concurrency import run_concurrently
from tests.factories import MemberFactory
from wechat.messages import (
    UnknownTemplate,
    subscribe_consent_record,
    subscribe_message_queue,
    subscribe_message_requeue_stale,
    subscribe_message_send,
)
from wechat.models import MessageAttempt, MessageLog, MessageOutcome, SubscribeConsent
from wechat.tasks import send_subscribe_message

PAID = "sandbox-tmpl-order-paid"


def paid_values(**overrides):
    values = {"order_no": "M20261123000001", "amount": 1230, "goods": "有机奶粉 ×2",
              "paid_at": dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)}
    values.update(overrides)
    return values


@pytest.fixture
def member(db):
    return MemberFactory.create()


def consent(member, sandbox, *, ours: int = 1, wechat: int | None = None):
    """The member accepted `ours` times as we recorded it and `wechat` times as WeChat knows it."""
    for _ in range(ours):
        subscribe_consent_record(member_id=member.pk, openid=member.openid, results={PAID: "accept"})
    for _ in range(ours if wechat is None else wechat):
        sandbox.subscribe(member.openid, {PAID: "accept"})


def queue(member, reference: str = "M20261123000001", **values) -> MessageLog:
    return subscribe_message_queue(member_id=member.pk, openid=member.openid, template_key="order_paid",
                                   values=paid_values(**values), reference=reference)


def credits(member) -> int:
    row = SubscribeConsent.objects.filter(member_id=member.pk, template_id=PAID).first()
    return row.credits if row else 0


def attempts(log: MessageLog) -> list[tuple[str, str]]:
    return list(MessageAttempt.objects.filter(log=log).order_by("number").values_list("outcome", "errcode"))


def test_with_one_credit_the_message_is_sent_and_the_credit_used(member, sandbox):
    consent(member, sandbox)
    log = queue(member)

    result = send_subscribe_message.apply(args=(log.pk,))

    assert result.get() == MessageOutcome.SENT
    log.refresh_from_db()
    assert (log.outcome, log.attempts, log.credit_used) == (MessageOutcome.SENT, 1, True)
    assert log.sent_at is not None and log.errcode == ""
    assert credits(member) == 0
    delivered = sandbox.messages(touser=member.openid)
    assert len(delivered) == 1
    assert delivered[0]["template_id"] == PAID
    assert delivered[0]["page"] == "pages/order/detail?order_no=M20261123000001"
    assert delivered[0]["data"] == {"character_string1": "M20261123000001", "amount2": "¥12.30",
                                    "thing3": "有机奶粉 ×2", "time4": "2026年11月23日 20:00"}
    assert attempts(log) == [(MessageOutcome.SENT, "")]


def test_without_a_credit_nothing_is_sent_and_the_log_says_why(member, sandbox):
    sandbox.subscribe(member.openid, {PAID: "accept"})  # WeChat would deliver; we hold no credit
    log = queue(member)

    send_subscribe_message.apply(args=(log.pk,))

    log.refresh_from_db()
    assert (log.outcome, log.errcode, log.attempts) == (MessageOutcome.NO_CREDIT, "no_credit", 0)
    assert "未订阅" in log.errmsg
    assert sandbox.messages() == []
    assert sandbox.stats().get("subscribe_send", 0) == 0
    assert not MessageAttempt.objects.filter(log=log).exists()


def test_a_transient_error_is_retried_and_both_attempts_are_logged(member, sandbox):
    consent(member, sandbox)
    sandbox.fail_messages(-1)
    log = queue(member)

    send_subscribe_message.apply(args=(log.pk,))

    log.refresh_from_db()
    assert (log.outcome, log.attempts) == (MessageOutcome.SENT, 2)
    assert attempts(log) == [(MessageOutcome.RETRYING, "-1"), (MessageOutcome.SENT, "")]
    assert credits(member) == 0  # one credit for the message, not one per attempt
    assert len(sandbox.messages()) == 1


def test_the_retry_waits_longer_each_time(member, sandbox, settings):
    settings.WECHAT_SUBSCRIBE_RETRY_BASE_SECONDS = 30
    consent(member, sandbox)
    sandbox.fail_messages(-1, -1)
    log = queue(member)

    first = subscribe_message_send(log_id=log.pk)
    second = subscribe_message_send(log_id=log.pk)

    assert (first.outcome, first.retry_in) == (MessageOutcome.RETRYING, 30)
    assert (second.outcome, second.retry_in) == (MessageOutcome.RETRYING, 60)
    log.refresh_from_db()
    assert log.next_attempt_at is not None and log.next_attempt_at > timezone.now() + dt.timedelta(seconds=50)


def test_transient_errors_until_the_attempts_run_out_fail_and_give_the_credit_back(member, sandbox, settings):
    settings.WECHAT_SUBSCRIBE_MAX_ATTEMPTS = 3
    consent(member, sandbox)
    sandbox.fail_messages(-1, -1, -1, -1)
    log = queue(member)

    send_subscribe_message.apply(args=(log.pk,))

    log.refresh_from_db()
    assert (log.outcome, log.attempts, log.errcode, log.credit_used) == (MessageOutcome.FAILED, 3, "-1", False)
    assert [a for a, _ in attempts(log)] == [MessageOutcome.RETRYING, MessageOutcome.RETRYING, MessageOutcome.FAILED]
    assert credits(member) == 1  # WeChat delivered nothing, so the consent is still there
    assert sandbox.stats()["subscribe_send"] == 3


def test_43101_is_a_normal_outcome_not_retried_and_our_count_is_set_right(member, sandbox):
    consent(member, sandbox, ours=2, wechat=0)  # we believe two, WeChat has none
    log = queue(member)

    send_subscribe_message.apply(args=(log.pk,))

    log.refresh_from_db()
    assert (log.outcome, log.errcode, log.attempts) == (MessageOutcome.NO_CONSENT, "43101", 1)
    assert credits(member) == 0
    assert sandbox.stats()["subscribe_send"] == 1
    assert attempts(log) == [(MessageOutcome.NO_CONSENT, "43101")]


def test_wechat_refusing_the_data_is_rejected_without_retry_and_the_credit_returned(member, sandbox, settings):
    # Our settings map the template to keys WeChat's template does not have.
    sandbox.register_template("tmpl-elsewhere", ["thing1"], title="别的模板")
    settings.WECHAT_SUBSCRIBE_TEMPLATES = {
        **settings.WECHAT_SUBSCRIBE_TEMPLATES,
        "order_paid": {"id": "tmpl-elsewhere", "title": "订单支付成功通知", "page": "",
                       "fields": {"thing9": "goods"}},
    }
    subscribe_consent_record(member_id=member.pk, openid=member.openid, results={"tmpl-elsewhere": "accept"})
    sandbox.subscribe(member.openid, {"tmpl-elsewhere": "accept"})
    log = queue(member)

    send_subscribe_message.apply(args=(log.pk,))

    log.refresh_from_db()
    assert (log.outcome, log.errcode, log.attempts) == (MessageOutcome.REJECTED, "47003", 1)
    assert "data.thing1.value is empty" in log.errmsg
    assert SubscribeConsent.objects.get(member_id=member.pk, template_id="tmpl-elsewhere").credits == 1


def test_running_the_task_twice_sends_once(member, sandbox):
    consent(member, sandbox, ours=2)
    log = queue(member)

    send_subscribe_message.apply(args=(log.pk,))
    again = send_subscribe_message.apply(args=(log.pk,))

    assert again.get() == MessageOutcome.SENT
    assert len(sandbox.messages()) == 1
    assert credits(member) == 1
    assert MessageLog.objects.get(pk=log.pk).attempts == 1


def test_a_message_another_sender_holds_is_skipped(member, sandbox):
    consent(member, sandbox)
    log = queue(member)
    MessageLog.objects.filter(pk=log.pk).update(outcome=MessageOutcome.SENDING, credit_used=True,
                                                next_attempt_at=timezone.now() + dt.timedelta(minutes=1))

    assert subscribe_message_send(log_id=log.pk).outcome == MessageOutcome.SENDING
    assert sandbox.messages() == []


def test_a_missing_log_is_a_no_op(db, sandbox):
    assert send_subscribe_message.apply(args=(987654321,)).get() == "missing"


def test_a_rejected_token_is_refreshed_within_the_same_attempt(member, sandbox):
    consent(member, sandbox)
    log = queue(member)
    send_subscribe_message.apply(args=(log.pk,))  # caches a token
    sandbox.expire_tokens()
    consent(member, sandbox)
    second = queue(member, reference="M20261123000002", order_no="M20261123000002")

    send_subscribe_message.apply(args=(second.pk,))

    second.refresh_from_db()
    assert (second.outcome, second.attempts) == (MessageOutcome.SENT, 1)


@pytest.mark.django_db(transaction=True)
def test_two_messages_racing_for_one_credit_send_one(sandbox, monkeypatch):
    from wechat.messages import sending

    monkeypatch.setattr(sending, "_enqueue", lambda log_id: None)  # outside a transaction it would publish now
    member = MemberFactory.create()
    consent(member, sandbox, ours=1, wechat=5)
    logs = [queue(member, reference=f"M{i}", order_no=f"M{i}") for i in range(4)]

    outcomes = run_concurrently(lambda i: subscribe_message_send(log_id=logs[i].pk).outcome, 4)

    assert sorted(outcomes) == sorted([MessageOutcome.SENT] + [MessageOutcome.NO_CREDIT] * 3)
    assert credits(member) == 0
    assert len(sandbox.messages()) == 1


# --- queueing --------------------------------------------------------------------------------------


def our_credit(member, template_id: str = PAID) -> None:
    subscribe_consent_record(member_id=member.pk, openid=member.openid, results={template_id: "accept"})


def test_queueing_sends_after_commit_only(member, django_capture_on_commit_callbacks):
    our_credit(member)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        log = queue(member)

    assert log.outcome == MessageOutcome.PENDING
    assert len(callbacks) == 1


def test_without_a_credit_the_message_is_settled_when_queued_and_never_queued(
        member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        log = queue(member)

    assert (log.outcome, log.errcode, log.attempts) == (MessageOutcome.NO_CREDIT, "no_credit", 0)
    assert callbacks == []


def test_the_same_reference_is_one_message(member, django_capture_on_commit_callbacks):
    our_credit(member)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = queue(member)
        second = queue(member, amount=999)

    assert first.pk == second.pk
    assert len(callbacks) == 1
    assert MessageLog.objects.filter(member_id=member.pk).count() == 1


def test_values_are_cut_to_wechat_limits_when_queued(member):
    log = queue(member, goods="有机婴儿奶粉 1段 800g 罐装 新西兰原装进口 送勺子")
    assert log.data["thing3"] == "有机婴儿奶粉 1段 800g 罐装 新…"


def test_a_value_that_cannot_be_shown_is_logged_as_rejected_and_not_sent(member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        log = queue(member, amount="很多")

    assert (log.outcome, log.errcode) == (MessageOutcome.REJECTED, "format_error")
    assert "amount2" in log.errmsg
    assert callbacks == []


def test_a_missing_value_is_logged_as_rejected(member):
    log = subscribe_message_queue(member_id=member.pk, openid=member.openid, template_key="order_paid",
                                  values={"order_no": "M1"})
    assert log.outcome == MessageOutcome.REJECTED and "缺少字段" in log.errmsg


def test_a_template_without_an_id_is_logged_as_failed(member, settings):
    settings.WECHAT_SUBSCRIBE_TEMPLATES = {
        **settings.WECHAT_SUBSCRIBE_TEMPLATES,
        "order_paid": {**settings.WECHAT_SUBSCRIBE_TEMPLATES["order_paid"], "id": ""},
    }
    log = queue(member)
    assert (log.outcome, log.errcode) == (MessageOutcome.FAILED, "not_configured")


def test_an_unknown_template_key_is_a_programming_error(member):
    with pytest.raises(UnknownTemplate):
        subscribe_message_queue(member_id=member.pk, openid=member.openid, template_key="nope", values={})


def test_the_templates_for_later_issues_render_within_limits(member, settings):
    for key in ("birthday", "group_buy_result", "points_expiring", "coupon_expiring"):
        our_credit(member, settings.WECHAT_SUBSCRIBE_TEMPLATES[key]["id"])
    expires = dt.date(2026, 12, 31)
    cases = {
        "birthday": {"greeting": "祝您生日快乐！", "gift": "生日专享 50 元无门槛券", "valid_until": expires,
                     "remark": "点击领取您的生日礼"},
        "group_buy_result": {"goods": "网红蛋糕 6 寸", "result": "拼团成功", "amount": 5990,
                             "group_no": "G1", "remark": "商家将尽快发货"},
        "points_expiring": {"points": 1200, "expires_on": expires, "remark": "积分可在积分商城兑换好礼"},
        "coupon_expiring": {"coupon": "满 199 减 30", "expires_on": expires, "remark": "别让优惠溜走"},
    }
    for key, values in cases.items():
        log = subscribe_message_queue(member_id=member.pk, openid=member.openid, template_key=key, values=values)
        assert log.outcome == MessageOutcome.PENDING, (key, log.errmsg)


def test_stale_messages_are_queued_again(member, monkeypatch):
    from wechat.messages import sending

    queued: list[int] = []
    monkeypatch.setattr(sending, "_enqueue", queued.append)  # record instead of publishing to the broker
    our_credit(member)
    log = queue(member)
    MessageLog.objects.filter(pk=log.pk).update(next_attempt_at=timezone.now() - dt.timedelta(hours=1))
    fresh = queue(member, reference="M2")

    assert subscribe_message_requeue_stale() == 1
    assert queued == [log.pk] and fresh.pk not in queued
