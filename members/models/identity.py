"""Identity: the member (from WeChat), the profile they fill in, tokens, addresses."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import ExtractDay, ExtractMonth


class Gender(models.TextChoices):
    UNKNOWN = "unknown", "未知"
    MALE = "male", "男"
    FEMALE = "female", "女"


class Member(models.Model):
    """A shopper, identified by the mini-program openid. Not a Django user (operators are)."""

    openid = models.CharField("OpenID", max_length=64, unique=True)
    unionid = models.CharField("UnionID", max_length=64, blank=True, default="")
    # Kept server-side only: needed to decrypt data WeChat gives the mini-program.
    session_key = models.CharField("会话密钥", max_length=128, blank=True, default="", editable=False)
    nickname = models.CharField("昵称", max_length=64, blank=True, default="")
    avatar_url = models.URLField("头像", max_length=500, blank=True, default="")
    gender = models.CharField("性别", max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField("生日", null=True, blank=True)
    # A member sets the birthday once (the gift cannot be farmed); later changes go through
    # customer service in the console.
    birthday_set_at = models.DateTimeField("生日设置时间", null=True, blank=True, editable=False)
    province = models.CharField("省份", max_length=32, blank=True, default="")
    city = models.CharField("城市", max_length=32, blank=True, default="")
    phone = models.CharField("手机号", max_length=20, blank=True, default="", db_index=True)
    is_active = models.BooleanField("有效", default=True)
    # Loyalty (members issue): the tier follows growth; see members.models.tiers.
    tier = models.ForeignKey("members.Tier", verbose_name="会员等级", null=True, blank=True,
                             on_delete=models.PROTECT, related_name="members")
    growth = models.BigIntegerField("成长值", default=0)
    # A checked snapshot of the points ledger (members.models.points): changed only together
    # with a ledger row, in one transaction; a nightly job reports any drift.
    points_balance = models.BigIntegerField("积分余额", default=0)
    # Purchase facts the shop reports with plain values (members knows no orders): used by
    # new-customer coupons and by segment rules.
    paid_order_count = models.PositiveIntegerField("支付订单数", default=0)
    paid_total_fen = models.BigIntegerField("累计支付（分）", default=0)
    last_paid_at = models.DateTimeField("最近支付", null=True, blank=True)
    registered_at = models.DateTimeField("注册时间", auto_now_add=True)
    last_login_at = models.DateTimeField("最近登录", null=True, blank=True)
    # 注销: personal data anonymised, orders and ledgers kept for the books.
    deleted_at = models.DateTimeField("注销时间", null=True, blank=True)

    class Meta:
        verbose_name = "会员"
        verbose_name_plural = "会员"
        ordering = ["-id"]
        # Without view_member_phone the console shows 138****8000 (core.admin.phone_text).
        permissions = [("view_member_phone", "可查看完整手机号"), ("export_member", "可导出会员")]
        constraints = [
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="member_points_non_negative"),
        ]
        indexes = [
            # The birthday job walks today's birthdays by (month, day) and keyset on id; segment
            # rules on the birthday month use the same index's prefix.
            models.Index(ExtractMonth("birthday"), ExtractDay("birthday"), F("id"), name="member_birthday_md"),
            # Registration anniversaries on the calendar of settings.TIME_ZONE (Asia/Shanghai), the
            # zone the extracts below are compiled in (AT TIME ZONE '<name>' is immutable).
            models.Index(ExtractMonth("registered_at"), ExtractDay("registered_at"), F("id"),
                         name="member_registered_md"),
        ]

    def __str__(self) -> str:
        return self.nickname or f"会员{self.pk}"


class MemberToken(models.Model):
    """A bearer token we issued. Only its SHA-256 is stored; revoking sets `revoked_at`."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "登录令牌"
        verbose_name_plural = "登录令牌"


class Address(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="addresses")
    receiver_name = models.CharField("收货人", max_length=32)
    phone = models.CharField("电话", max_length=20)
    province = models.CharField("省份", max_length=32)
    city = models.CharField("城市", max_length=32)
    district = models.CharField("区县", max_length=32, blank=True, default="")
    detail = models.CharField("详细地址", max_length=200)
    is_default = models.BooleanField("默认地址", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "收货地址"
        verbose_name_plural = "收货地址"
        ordering = ["-is_default", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(is_default=True), name="one_default_address_per_member"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receiver_name} {self.province}{self.city}{self.district}{self.detail}"
