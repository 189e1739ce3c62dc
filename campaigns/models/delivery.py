"""How coupons reach members besides the coupon centre: channel codes, redemption codes, targeted issues."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class ChannelKind(models.TextChoices):
    CASHIER = "cashier", "收银台"
    PACKAGE = "package", "包装"
    STORE_POSTER = "store_poster", "门店海报"
    OTHER = "other", "其他"


class Channel(models.Model):
    """An offline placement with a mini-program code (getwxacodeunlimit) whose scene claims a template.

    The code is permanent (WeChat), so it is generated once and stored.
    """

    name = models.CharField("渠道名称", max_length=64)
    kind = models.CharField("渠道类型", max_length=16, choices=ChannelKind.choices, default=ChannelKind.OTHER)
    template = models.ForeignKey("campaigns.CouponTemplate", verbose_name="领取的优惠券", on_delete=models.PROTECT,
                                 related_name="channels")
    scene = models.CharField("场景值", max_length=32, unique=True, help_text="小程序码 scene，最多 32 个字符")
    page = models.CharField("小程序页面", max_length=128, default="pages/coupon/scan")
    qrcode = models.FileField("小程序码", upload_to="channels/", blank=True)
    qrcode_generated_at = models.DateTimeField("生成时间", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "渠道码"
        verbose_name_plural = "渠道码"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class ChannelScan(models.Model):
    """One scan of a channel code by a member, and what it led to."""

    class Outcome(models.TextChoices):
        CLAIMED = "claimed", "领取成功"
        REFUSED = "refused", "未领取"

    channel = models.ForeignKey(Channel, verbose_name="渠道", on_delete=models.CASCADE, related_name="scans")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField("结果", max_length=16, choices=Outcome.choices)
    reason = models.CharField("原因", max_length=64, blank=True, default="")
    scanned_at = models.DateTimeField("扫码时间", auto_now_add=True)

    class Meta:
        verbose_name = "扫码记录"
        verbose_name_plural = "扫码记录"
        ordering = ["-id"]


class CodeBatch(models.Model):
    """A batch of redemption codes (兑换码) for a partner brand (异业合作)."""

    class Origin(models.TextChoices):
        GENERATED = "generated", "系统生成"
        IMPORTED = "imported", "导入"

    name = models.CharField("批次名称", max_length=64)
    partner = models.CharField("合作方", max_length=64, blank=True, default="")
    template = models.ForeignKey("campaigns.CouponTemplate", verbose_name="兑换的优惠券", on_delete=models.PROTECT,
                                 related_name="code_batches")
    origin = models.CharField("来源", max_length=16, choices=Origin.choices, default=Origin.GENERATED)
    quantity = models.PositiveIntegerField("数量", default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="创建人", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "兑换码批次"
        verbose_name_plural = "兑换码批次"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class RedeemCode(models.Model):
    """One code, redeemable once: redemption is a conditional UPDATE on `redeemed_by IS NULL`."""

    batch = models.ForeignKey(CodeBatch, verbose_name="批次", on_delete=models.CASCADE, related_name="codes")
    code = models.CharField("兑换码", max_length=32, unique=True)
    redeemed_by = models.ForeignKey("members.Member", verbose_name="兑换会员", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    redeemed_at = models.DateTimeField("兑换时间", null=True, blank=True)
    coupon = models.OneToOneField("campaigns.Coupon", verbose_name="兑换所得券", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="redeem_code")

    class Meta:
        verbose_name = "兑换码"
        verbose_name_plural = "兑换码"
        ordering = ["id"]


class TargetedIssue(models.Model):
    """定向发放: one template to a segment, a tag or an uploaded list of members, run by a job.

    The job walks the targets in member-id order and stores its cursor and counts in the same
    transaction as each chunk's coupons, so a crash resumes exactly and a re-run issues nothing
    twice (coupons also carry issue_key "targeted:<id>:<member>").
    """

    class Target(models.TextChoices):
        SEGMENT = "segment", "会员人群"
        TAG = "tag", "会员标签"
        MEMBERS = "members", "上传名单"

    class Status(models.TextChoices):
        DRAFT = "draft", "待确认"
        QUEUED = "queued", "排队中"
        RUNNING = "running", "发放中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    template = models.ForeignKey("campaigns.CouponTemplate", verbose_name="优惠券", on_delete=models.PROTECT,
                                 related_name="targeted_issues")
    target = models.CharField("发放对象", max_length=16, choices=Target.choices)
    segment = models.ForeignKey("members.Segment", verbose_name="人群", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    tag = models.ForeignKey("members.Tag", verbose_name="标签", null=True, blank=True,
                            on_delete=models.PROTECT, related_name="+")
    member_ids = ArrayField(models.BigIntegerField(), verbose_name="名单会员", default=list, blank=True)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    targeted_count = models.PositiveIntegerField("目标人数", default=0)
    processed_count = models.PositiveIntegerField("已处理", default=0)
    issued_count = models.PositiveIntegerField("已发放", default=0)
    skipped_limit_count = models.PositiveIntegerField("跳过：已达上限", default=0)
    skipped_ineligible_count = models.PositiveIntegerField("跳过：不符合条件", default=0)
    cursor = models.BigIntegerField("进度游标", default=0, editable=False)
    error = models.CharField("错误", max_length=200, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="创建人", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "定向发券"
        verbose_name_plural = "定向发券"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.template.name} → {self.get_target_display()}"
