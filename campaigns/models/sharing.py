"""Shares and what follows them: visits, new members, attributed orders; invitations and their
rewards; the abuse guards (allowance counters, devices seen per member).

A share is recorded when a member shares something (the share card and poster carry its
`share_no`); the visit, the registration and the orders that follow point back at it, which is
what the console's spread tree and K-factor are computed from. WeChat forbids rewarding the share
itself: an invitation's reward is paid on the friend's registration and/or first paid order.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ShareKind(models.TextChoices):
    PRODUCT = "product", "商品"
    GROUP = "group", "拼团"
    BARGAIN = "bargain", "砍价"
    INVITATION = "invitation", "邀请好友"
    COUPON = "coupon", "优惠券"
    PAGE = "page", "页面"


class Share(models.Model):
    """Who shared what. `parent` is the share the sharer themselves came in through (the spread
    tree's edge); `target` names the thing shared (a product id, a launch number, a page path)."""

    share_no = models.CharField("分享编号", max_length=16, unique=True)
    sharer = models.ForeignKey("members.Member", verbose_name="分享人", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("分享内容", max_length=16, choices=ShareKind.choices)
    target = models.CharField("分享对象", max_length=64, blank=True, default="")
    parent = models.ForeignKey("self", verbose_name="来源分享", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="children")
    depth = models.PositiveSmallIntegerField("传播层级", default=1)
    created_at = models.DateTimeField("分享时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "分享记录"
        verbose_name_plural = "分享记录"
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind", "target"], name="share_kind_target")]

    def __str__(self) -> str:
        return self.share_no


class ShareVisit(models.Model):
    """A logged-in member opening a share (the mini-program reports it with the entry scene)."""

    share = models.ForeignKey(Share, verbose_name="分享", on_delete=models.CASCADE, related_name="visits")
    visitor = models.ForeignKey("members.Member", verbose_name="访问者", on_delete=models.CASCADE, related_name="+")
    scene = models.PositiveIntegerField("进入场景值", null=True, blank=True)
    device_id = models.CharField("设备", max_length=64, blank=True, default="")
    is_new_member = models.BooleanField("新会员", default=False)
    created_at = models.DateTimeField("访问时间", auto_now_add=True)

    class Meta:
        verbose_name = "分享访问"
        verbose_name_plural = "分享访问"
        ordering = ["-id"]
        indexes = [models.Index(fields=["visitor", "-created_at"], name="share_visit_last_touch")]


class ShareSignup(models.Model):
    """A new member brought by a share: at most one per member (the share they registered through)."""

    member = models.OneToOneField("members.Member", verbose_name="新会员", on_delete=models.CASCADE,
                                  related_name="+")
    share = models.ForeignKey(Share, verbose_name="分享", on_delete=models.CASCADE, related_name="signups")
    scene = models.PositiveIntegerField("进入场景值", null=True, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "分享带来的新会员"
        verbose_name_plural = "分享带来的新会员"


class ShareOrder(models.Model):
    """A paid order attributed to the last share its buyer opened within the attribution window."""

    order_no = models.CharField("订单号", max_length=32, unique=True)
    share = models.ForeignKey(Share, verbose_name="分享", on_delete=models.CASCADE, related_name="orders")
    member = models.ForeignKey("members.Member", verbose_name="买家", on_delete=models.CASCADE, related_name="+")
    paid_fen = models.BigIntegerField("实付（分）")
    refunded_fen = models.BigIntegerField("已退（分）", default=0)
    paid_at = models.DateTimeField("支付时间")

    class Meta:
        verbose_name = "分享成交"
        verbose_name_plural = "分享成交"
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(refunded_fen__lte=models.F("paid_fen")),
                                              name="share_order_refund_within_paid")]


class InviteRewardKind(models.TextChoices):
    POINTS = "points", "积分"
    COUPON = "coupon", "优惠券"


class InviteSettings(models.Model):
    """邀请有礼. One row (pk=1), edited by operators; the defaults are DESIGN.md §7's."""

    enabled = models.BooleanField("启用邀请有礼", default=True)
    reward_on_registration = models.BooleanField("好友注册时奖励", default=True)
    reward_on_first_order = models.BooleanField("好友首单支付后奖励", default=True)
    reward_kind = models.CharField("奖励方式", max_length=16, choices=InviteRewardKind.choices,
                                   default=InviteRewardKind.POINTS)
    reward_points = models.PositiveIntegerField("奖励积分", default=100)
    reward_coupon_template = models.ForeignKey("campaigns.CouponTemplate", verbose_name="奖励优惠券", null=True,
                                               blank=True, on_delete=models.PROTECT, related_name="+")
    daily_cap = models.PositiveIntegerField("每人每日奖励上限", default=20)
    total_cap = models.PositiveIntegerField("每人累计奖励上限", default=200)
    device_daily_cap = models.PositiveIntegerField(
        "同一设备每日奖励上限", default=20, help_text="同一台手机上注册的好友，每天最多为邀请人带来几次奖励")

    class Meta:
        verbose_name = "邀请有礼设置"
        verbose_name_plural = "邀请有礼设置"

    def __str__(self) -> str:
        return "邀请有礼设置"


class Invitation(models.Model):
    """A friend who registered through an invitation share, attributed to the inviter (once)."""

    invitee = models.OneToOneField("members.Member", verbose_name="被邀请人", on_delete=models.CASCADE,
                                   related_name="+")
    inviter = models.ForeignKey("members.Member", verbose_name="邀请人", on_delete=models.PROTECT, related_name="+")
    share = models.ForeignKey(Share, verbose_name="分享", on_delete=models.PROTECT, related_name="+")
    device_id = models.CharField("设备", max_length=64, blank=True, default="")
    recycled = models.BooleanField("重新注册的账号", default=False,
                                   help_text="手机号或 OpenID 属于已注销账号：不产生任何奖励")
    created_at = models.DateTimeField("邀请时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "邀请记录"
        verbose_name_plural = "邀请记录"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.inviter} 邀请 {self.invitee}"


class InviteRewardTrigger(models.TextChoices):
    REGISTRATION = "registration", "好友注册"
    FIRST_ORDER = "first_order", "好友首单"


class InviteRewardOutcome(models.TextChoices):
    GRANTED = "granted", "已发放"
    CAPPED = "capped", "超出上限未发"
    RECYCLED = "recycled", "重新注册账号不发"
    BLOCKED = "blocked", "邀请人已拉黑不发"
    DISABLED = "disabled", "活动未启用不发"


class InviteReward(models.Model):
    """What one friend's registration or first order earned the inviter: once per (friend, trigger),
    whatever the outcome, so a repeat or a race never pays twice."""

    invitation = models.ForeignKey(Invitation, verbose_name="邀请", on_delete=models.CASCADE, related_name="rewards")
    inviter = models.ForeignKey("members.Member", verbose_name="邀请人", on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField("触发", max_length=16, choices=InviteRewardTrigger.choices)
    outcome = models.CharField("结果", max_length=16, choices=InviteRewardOutcome.choices)
    kind = models.CharField("奖励方式", max_length=16, choices=InviteRewardKind.choices, blank=True, default="")
    points = models.PositiveIntegerField("积分", default=0)
    coupon_id = models.BigIntegerField("优惠券 ID", null=True, blank=True)
    reference = models.CharField("关联单号", max_length=32, blank=True, default="")
    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "邀请奖励"
        verbose_name_plural = "邀请奖励"
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["invitation", "trigger"], name="invite_reward_once")]


class ActionAllowance(models.Model):
    """How often `key` (a member's or a device's helps, an inviter's rewards) was used in `window`
    (a Shanghai day "2026-12-06", or "all"). Caps are the WHERE clause of a conditional UPDATE."""

    key = models.CharField(max_length=96)
    window = models.CharField(max_length=10)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "次数计数"
        verbose_name_plural = "次数计数"
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="action_allowance_once")]


class DeviceSighting(models.Model):
    """A member seen on a device (the mini-program's own device id) while helping, visiting a share
    or registering through one: what "many accounts on one device" is computed from."""

    device_id = models.CharField("设备", max_length=64)
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE, related_name="+")
    first_seen_at = models.DateTimeField("首次出现", auto_now_add=True)

    class Meta:
        verbose_name = "设备记录"
        verbose_name_plural = "设备记录"
        constraints = [models.UniqueConstraint(fields=["device_id", "member"], name="device_sighting_once")]
