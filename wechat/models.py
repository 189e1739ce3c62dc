"""Subscribe messages (订阅消息): what shoppers agreed to receive, and every message we sent; and
WeChat's media check of every image a member uploads.

Members are referred to by plain id and openid, not by foreign key: wechat sits below members
in the app stack (docs/architecture.md) and knows nothing of them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.audit import AuditEvent
from core.state import StateMachine


class SubscribeResult(models.TextChoices):
    """What wx.requestSubscribeMessage answered for one template."""

    ACCEPT = "accept", "同意"  # one send credit
    REJECT = "reject", "拒绝"
    BAN = "ban", "已被后台封禁"  # WeChat has banned the template
    FILTER = "filter", "已被后台过滤"  # the template was filtered (a title clash)


class SubscribeConsent(models.Model):
    """How many messages of one template a member may still receive.

    WeChat's one-time subscriptions: each "accept" in wx.requestSubscribeMessage allows one
    send. `credits` is taken one at a time by a conditional UPDATE (credits >= 1) and never goes
    below zero (CheckConstraint). A template id, not our key, identifies the consent: after an
    operator switches a key to a new WeChat template, consents given for the old one are void.
    """

    member_id = models.BigIntegerField("会员ID")
    openid = models.CharField("OpenID", max_length=64)
    template_key = models.CharField("模板", max_length=32)
    template_id = models.CharField("模板ID", max_length=64)
    credits = models.PositiveIntegerField("剩余可发次数", default=0)
    accepted_total = models.PositiveIntegerField("累计同意次数", default=0)
    last_result = models.CharField("最近一次选择", max_length=8, choices=SubscribeResult.choices, blank=True,
                                   default="")
    last_result_at = models.DateTimeField("最近选择时间", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间")

    class Meta:
        verbose_name = "订阅授权"
        verbose_name_plural = "订阅授权"
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member_id", "template_id"], name="one_consent_per_member_template"),
            models.CheckConstraint(condition=Q(credits__gte=0), name="subscribe_credits_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}:{self.template_key}={self.credits}"


class MessageOutcome(models.TextChoices):
    """Where a message stands. The first three are on the way; the others are final."""

    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    RETRYING = "retrying", "等待重试"
    SENT = "sent", "已发送"
    NO_CREDIT = "no_credit", "未订阅，未发送"  # we held no credit: nothing was sent to WeChat
    NO_CONSENT = "no_consent", "用户拒收（43101）"  # WeChat found no consent left
    REJECTED = "rejected", "微信拒绝"  # invalid data, template or openid: retrying cannot help
    FAILED = "failed", "发送失败"  # transient errors until the attempts ran out


FINAL_OUTCOMES = frozenset({MessageOutcome.SENT, MessageOutcome.NO_CREDIT, MessageOutcome.NO_CONSENT,
                            MessageOutcome.REJECTED, MessageOutcome.FAILED})


class MessageLog(models.Model):
    """One subscribe message: what it says, to whom, and how it ended.

    Written in the transaction of the change it tells about (so a rolled-back change sends
    nothing) and sent by a Celery task after commit. `credit_used` is true while the message
    holds one of the member's credits: taken before the first attempt, given back if WeChat did
    not deliver for a reason other than missing consent. Every attempt is a MessageAttempt.
    """

    member_id = models.BigIntegerField("会员ID")
    openid = models.CharField("OpenID", max_length=64)
    template_key = models.CharField("模板", max_length=32)
    template_id = models.CharField("模板ID", max_length=64)
    page = models.CharField("跳转页面", max_length=200, blank=True, default="")
    data = models.JSONField("消息内容", default=dict)
    # Idempotency: the same (member, template, reference) is one message however often asked.
    reference = models.CharField("关联单号", max_length=64, blank=True, default="")
    outcome = models.CharField("结果", max_length=16, choices=MessageOutcome.choices,
                               default=MessageOutcome.PENDING)
    errcode = models.CharField("错误码", max_length=32, blank=True, default="")
    errmsg = models.CharField("错误信息", max_length=300, blank=True, default="")
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    credit_used = models.BooleanField("已占用订阅次数", default=False)
    # When to look at an unfinished message again: pending → when queued, sending → when the
    # sender's claim lapses (it crashed), retrying → when the backoff ends. The sweeper re-queues
    # messages whose time is well past.
    next_attempt_at = models.DateTimeField("下次处理时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", null=True, blank=True)
    sent_at = models.DateTimeField("送达时间", null=True, blank=True)

    class Meta:
        verbose_name = "消息记录"
        verbose_name_plural = "消息记录"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["-created_at"], name="message_log_created_idx"),
            models.Index(fields=["outcome", "-created_at"], name="message_log_outcome_idx"),
            models.Index(fields=["template_key", "-created_at"], name="message_log_template_idx"),
            models.Index(fields=["member_id", "-id"], name="message_log_member_idx"),
            # The sweeper's work list: messages still on their way.
            models.Index(fields=["next_attempt_at"], name="message_log_unfinished_idx",
                         condition=Q(outcome__in=["pending", "sending", "retrying"])),
        ]
        constraints = [
            models.UniqueConstraint(fields=["member_id", "template_key", "reference"],
                                    condition=~Q(reference=""), name="one_message_per_reference"),
        ]

    def __str__(self) -> str:
        return f"消息 #{self.pk} {self.reference}".rstrip()


class MessageAttempt(models.Model):
    """One call to subscribeMessage.send and WeChat's answer (errcode 0 = delivered)."""

    log = models.ForeignKey(MessageLog, verbose_name="消息", on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField("第几次")
    outcome = models.CharField("结果", max_length=16, choices=MessageOutcome.choices)
    errcode = models.CharField("错误码", max_length=32, blank=True, default="")
    errmsg = models.CharField("错误信息", max_length=300, blank=True, default="")
    at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "发送尝试"
        verbose_name_plural = "发送尝试"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["log", "number"], name="one_row_per_attempt"),
        ]

    def __str__(self) -> str:
        return f"{self.log_id}#{self.number}"


class MediaCheckStatus(models.TextChoices):
    """Where an image stands with WeChat's media check (mediaCheckAsync). Only `pass` is shown to
    other people; `review` waits for an operator, who decides pass or risky."""

    PENDING = "pending", "检测中"
    PASS = "pass", "通过"
    REVIEW = "review", "待人工审核"
    RISKY = "risky", "违规"


# WeChat's verdicts and the operator's decisions (MEDIA_CHECK_MACHINE below). A check that cannot
# be submitted at all (WeChat refuses the request, or the attempts run out) goes to review too:
# no image is shown unchecked, and none is stuck without someone able to decide.
MEDIA_CHECK_TRANSITIONS: dict[str, set[str]] = {
    MediaCheckStatus.PENDING: {MediaCheckStatus.PASS, MediaCheckStatus.REVIEW, MediaCheckStatus.RISKY},
    MediaCheckStatus.REVIEW: {MediaCheckStatus.PASS, MediaCheckStatus.RISKY},
}


class MediaCheck(models.Model):
    """One member-uploaded image sent to WeChat's asynchronous media check, and its verdict.

    `kind` and `object_id` say what the image belongs to (a review photo, an after-sale photo:
    wechat.media_checks.MediaKind, registered by the owning app), as plain values: wechat sits
    below the apps that own the images. The image is `media_name` in the private storage
    (core.media); WeChat fetches it through a signed link. `trace_id` is WeChat's answer to the
    submission and the key its verdict (a pushed `wxa_media_check` event) arrives under.
    Submission is retried with backoff (attempts, next_attempt_at, last_error), like the
    shipping-info upload; the status moves only through MEDIA_CHECK_MACHINE.
    """

    kind = models.CharField("类型", max_length=32)
    object_id = models.BigIntegerField("对象ID")
    member_id = models.BigIntegerField("会员ID", null=True, blank=True)
    openid = models.CharField("OpenID", max_length=64)
    media_name = models.CharField("文件", max_length=255)
    status = models.CharField("状态", max_length=16, choices=MediaCheckStatus.choices,
                              default=MediaCheckStatus.PENDING)
    trace_id = models.CharField("微信 trace_id", max_length=64, null=True, blank=True, unique=True)
    label = models.IntegerField("标签", null=True, blank=True)
    strategy = models.CharField("判定策略", max_length=32, blank=True, default="")
    attempts = models.PositiveSmallIntegerField("提交次数", default=0)
    next_attempt_at = models.DateTimeField("下次提交时间", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=300, blank=True, default="")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    decided_at = models.DateTimeField("判定时间", null=True, blank=True)

    class Meta:
        verbose_name = "图片安全检测"
        verbose_name_plural = "图片安全检测"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-id"], name="media_check_status_idx"),
            # The sweep's work list: checks not yet accepted by WeChat whose time has come.
            models.Index(fields=["next_attempt_at"], name="media_check_due_idx",
                         condition=Q(status="pending", trace_id__isnull=True)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="one_media_check_per_object"),
        ]

    def __str__(self) -> str:
        return f"图片检测 #{self.pk}"


class MediaCheckAction(models.TextChoices):
    CREATED = "created", "提交检测"
    SUBMITTED = "submitted", "微信已受理"
    SUBMIT_FAILED = "submit_failed", "提交失败"
    VERDICT = "verdict", "微信判定"
    DECIDED = "decided", "人工审核"


class MediaCheckEvent(AuditEvent):
    """Audit trail of a media check: submission attempts, WeChat's verdict, an operator's decision."""

    media_check = models.ForeignKey(MediaCheck, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=MediaCheckAction.choices)
    from_status = models.CharField("原状态", max_length=16, choices=MediaCheckStatus.choices, blank=True,
                                   default="")
    to_status = models.CharField("新状态", max_length=16, choices=MediaCheckStatus.choices, blank=True,
                                 default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "图片检测日志"
        verbose_name_plural = "图片检测日志"

    def __str__(self) -> str:
        return f"{self.media_check_id}:{self.action}"


MEDIA_CHECK_MACHINE = StateMachine(
    model=MediaCheck, table=MEDIA_CHECK_TRANSITIONS, event_model=MediaCheckEvent, event_subject="media_check",
    noun="图片检测", timestamps={MediaCheckStatus.PASS: "decided_at", MediaCheckStatus.REVIEW: "decided_at",
                                 MediaCheckStatus.RISKY: "decided_at"},
    verbs={MediaCheckStatus.PASS: "判定为通过", MediaCheckStatus.RISKY: "判定为违规"},
)
