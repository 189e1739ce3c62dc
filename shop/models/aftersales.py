"""After-sales (售后): requests, their lines, refunds through the gateway, and the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.audit import AuditEvent
from core.media import private_storage
from core.state import StateMachine
from shop.errors import AfterSaleInvalidTransition, AfterSaleNotFound, RefundInvalidTransition, RefundNotFound
from wechat.models import MediaCheck


class AfterSaleKind(models.TextChoices):
    REFUND_ONLY = "refund_only", "仅退款"
    RETURN_REFUND = "return_refund", "退货退款"


class AfterSaleStatus(models.TextChoices):
    REQUESTED = "requested", "待审核"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval", "待复核"
    AWAITING_RETURN = "awaiting_return", "待买家退货"
    RETURN_SHIPPED = "return_shipped", "买家已寄回"
    REFUNDING = "refunding", "退款中"
    REFUNDED = "refunded", "已退款"
    REJECTED = "rejected", "已拒绝"
    WITHDRAWN = "withdrawn", "已撤销"


S = AfterSaleStatus
# The after-sale lifecycle. Only AFTER_SALE_MACHINE.transition() changes AfterSale.status.
# REFUNDED straight from a review state is the zero-amount case (a free gift line): nothing goes
# through the gateway.
AFTER_SALE_TRANSITIONS: dict[str, set[str]] = {
    S.REQUESTED: {S.AWAITING_SECOND_APPROVAL, S.AWAITING_RETURN, S.REFUNDING, S.REFUNDED, S.REJECTED,
                  S.WITHDRAWN},
    S.AWAITING_SECOND_APPROVAL: {S.AWAITING_RETURN, S.REFUNDING, S.REFUNDED, S.REJECTED, S.WITHDRAWN},
    S.AWAITING_RETURN: {S.RETURN_SHIPPED, S.REFUNDING, S.REFUNDED, S.REJECTED, S.WITHDRAWN},
    S.RETURN_SHIPPED: {S.REFUNDING, S.REFUNDED, S.REJECTED},
    S.REFUNDING: {S.REFUNDED},
    S.REFUNDED: set(),
    S.REJECTED: set(),
    S.WITHDRAWN: set(),
}
# Statuses whose units and amount are claimed against the order line (refunded or on the way).
AFTER_SALE_OPEN = frozenset({S.REQUESTED, S.AWAITING_SECOND_APPROVAL, S.AWAITING_RETURN,
                             S.RETURN_SHIPPED, S.REFUNDING})
AFTER_SALE_CLAIMING = AFTER_SALE_OPEN | {S.REFUNDED}


class AfterSaleReason(models.TextChoices):
    """Why the shopper asks; one list for both kinds (the operator judges the fit)."""

    NO_LONGER_WANTED = "no_longer_wanted", "不想要了"
    ORDERED_BY_MISTAKE = "ordered_by_mistake", "拍错/多拍"
    NOT_SHIPPED_IN_TIME = "not_shipped_in_time", "未按约定时间发货"
    NOT_RECEIVED = "not_received", "快递一直未送达"
    DAMAGED = "damaged", "商品破损"
    MISSING_PARTS = "missing_parts", "少件/漏发"
    QUALITY = "quality", "质量问题"
    NOT_AS_DESCRIBED = "not_as_described", "商品与描述不符"
    WRONG_ITEM_SENT = "wrong_item_sent", "卖家发错货"
    SIZE_UNSUITABLE = "size_unsuitable", "尺码/规格不合适"
    OTHER = "other", "其他"


class AfterSale(models.Model):
    after_sale_no = models.CharField("售后单号", max_length=32, unique=True)
    order = models.ForeignKey("shop.Order", verbose_name="订单", on_delete=models.PROTECT,
                              related_name="after_sales")
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="after_sales")
    kind = models.CharField("类型", max_length=16, choices=AfterSaleKind.choices)
    status = models.CharField("状态", max_length=32, choices=AfterSaleStatus.choices,
                              default=AfterSaleStatus.REQUESTED, db_index=True)
    reason = models.CharField("原因", max_length=64, choices=AfterSaleReason.choices)
    description = models.TextField("说明", blank=True, default="")
    amount_fen = models.BigIntegerField("退款金额（分）")
    freight_fen = models.BigIntegerField("其中运费（分）", default=0)
    restock = models.BooleanField("退回库存", default=False)
    reject_reason = models.CharField("拒绝原因", max_length=200, blank=True, default="")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    second_approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="复核人", null=True,
                                           blank=True, on_delete=models.PROTECT, related_name="+")
    return_carrier = models.CharField("退货快递", max_length=32, blank=True, default="")
    return_tracking_no = models.CharField("退货单号", max_length=64, blank=True, default="")
    # Idempotency of the request: the same key and body returns this after-sale.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    request_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField("申请时间", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "售后单"
        verbose_name_plural = "售后单"
        ordering = ["-id"]
        # Maker-checker on large refunds: the second approval is finance's, not whoever may review.
        permissions = [("second_approve_aftersale", "可复核大额退款（二审）")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gte=0) & Q(freight_fen__gte=0),
                                   name="after_sale_amounts_non_negative"),
            models.UniqueConstraint(fields=["member", "idempotency_key"],
                                    condition=Q(idempotency_key__isnull=False),
                                    name="after_sale_idempotency_key_per_member"),
        ]

    def __str__(self) -> str:
        return self.after_sale_no


class AfterSaleLine(models.Model):
    """Units of one order line in a request, and the exact part of what the line paid."""

    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("shop.OrderLine", on_delete=models.PROTECT, related_name="after_sale_lines")
    quantity = models.PositiveIntegerField("数量")
    amount_fen = models.BigIntegerField("退款金额（分）")

    class Meta:
        verbose_name = "售后商品"
        verbose_name_plural = "售后商品"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1) & Q(amount_fen__gte=0),
                                   name="after_sale_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


# The MediaCheck kind of after-sale evidence photos (wechat.media_checks; registered in ShopConfig.ready()).
AFTER_SALE_PHOTO_MEDIA_KIND = "after_sale_photo"


class AfterSalePhoto(models.Model):
    """A photo the shopper uploaded (wx.uploadFile sends one file per request), then referenced
    from the request. Unreferenced uploads are purged by a job after a day."""

    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="photos", null=True,
                                   blank=True)
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE, null=True,
                               blank=True, related_name="+")
    image = models.ImageField("图片", upload_to="aftersales/%Y/%m/", storage=private_storage)
    # WeChat's check of the image: anyone but its owner sees it only once this says pass.
    media_check = models.OneToOneField(MediaCheck, verbose_name="图片安全检测", null=True, blank=True,
                                       on_delete=models.SET_NULL, related_name="+")
    sort = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField("上传时间", auto_now_add=True, null=True)

    class Meta:
        verbose_name = "售后图片"
        verbose_name_plural = "售后图片"
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.image.name


class AfterSaleAction(models.TextChoices):
    """What an after-sale's audit row records, in the words the shopper's progress trail and the console use."""

    REQUESTED = "requested", "提交申请"
    APPROVED_FIRST = "approved_first", "初审通过，待复核"
    APPROVED = "approved", "审核通过"
    REJECTED = "rejected", "审核未通过"
    WITHDRAWN = "withdrawn", "已撤销申请"
    RETURN_SHIPPED = "return_shipped", "已寄回商品"
    RETURN_TRACKING_UPDATED = "return_tracking_updated", "修改退货单号"
    RETURN_RECEIVED = "return_received", "商家已收到退货"
    RESTOCKED = "restocked", "商品已退回库存"
    REFUND_STARTED = "refund_started", "退款处理中"
    REFUNDED = "refunded", "退款成功"


class AfterSaleEvent(AuditEvent):
    """Audit trail of an after-sale: every decision, by whom, in the same transaction."""

    after_sale = models.ForeignKey(AfterSale, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=AfterSaleAction.choices)
    from_status = models.CharField("原状态", max_length=32, choices=AfterSaleStatus.choices, blank=True,
                                   default="")
    to_status = models.CharField("新状态", max_length=32, choices=AfterSaleStatus.choices, blank=True,
                                 default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "售后日志"
        verbose_name_plural = "售后日志"

    def __str__(self) -> str:
        return f"{self.after_sale_id}:{self.action}"


AFTER_SALE_MACHINE = StateMachine(
    model=AfterSale, table=AFTER_SALE_TRANSITIONS, event_model=AfterSaleEvent, event_subject="after_sale",
    noun="售后单", error=AfterSaleInvalidTransition, not_found=AfterSaleNotFound,
    verbs={S.AWAITING_SECOND_APPROVAL: "审核", S.AWAITING_RETURN: "审核", S.RETURN_SHIPPED: "填写退货单号",
           S.REFUNDING: "退款", S.REFUNDED: "退款", S.REJECTED: "拒绝", S.WITHDRAWN: "撤销"},
)


class RefundStatus(models.TextChoices):
    PENDING = "pending", "待提交"
    PROCESSING = "processing", "退款中"
    SUCCEEDED = "succeeded", "退款成功"
    FAILED = "failed", "退款失败"


R = RefundStatus
# The refund lifecycle. Only REFUND_MACHINE.transition() changes Refund.status.
# PENDING → SUCCEEDED: WeChat's notify may overtake our storing of its answer. FAILED →
# SUCCEEDED: a refund whose call timed out may still have gone through (same out_refund_no).
REFUND_TRANSITIONS: dict[str, set[str]] = {
    R.PENDING: {R.PROCESSING, R.FAILED, R.SUCCEEDED},
    R.PROCESSING: {R.SUCCEEDED, R.FAILED},
    R.FAILED: {R.PENDING, R.SUCCEEDED},
    R.SUCCEEDED: set(),
}
# How far along a refund is: WeChat's answers arrive out of order, and a late one about an earlier
# stage (PROCESSING stored after the SUCCESS notify, a failure after success) never moves it back.
REFUND_PROGRESS: dict[str, int] = {R.PENDING: 0, R.FAILED: 0, R.PROCESSING: 1, R.SUCCEEDED: 2}


class Refund(models.Model):
    """Money going back through the gateway. `out_refund_no` is ours and unique."""

    order = models.ForeignKey("shop.Order", verbose_name="订单", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey("payments.Payment", verbose_name="支付记录", on_delete=models.PROTECT,
                                related_name="refunds")
    after_sale = models.ForeignKey(AfterSale, verbose_name="售后单", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="refunds")
    out_refund_no = models.CharField("退款单号", max_length=64, unique=True)
    amount_fen = models.BigIntegerField("退款金额（分）")
    reason = models.CharField("原因", max_length=80, blank=True, default="")
    status = models.CharField("状态", max_length=16, choices=RefundStatus.choices,
                              default=RefundStatus.PENDING, db_index=True)
    refund_id = models.CharField("微信退款单号", max_length=64, null=True, blank=True, unique=True)
    attempts = models.PositiveIntegerField("提交次数", default=0)
    last_error = models.CharField("最近错误", max_length=300, blank=True, default="")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    succeeded_at = models.DateTimeField("到账时间", null=True, blank=True)

    class Meta:
        verbose_name = "退款"
        verbose_name_plural = "退款"
        ordering = ["-id"]
        permissions = [("export_refund", "可导出退款")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.out_refund_no


class RefundNotification(models.Model):
    """A decrypted, verified refund notification, stored once per WeChat refund id."""

    refund_id = models.CharField("微信退款单号", max_length=64, unique=True)
    out_refund_no = models.CharField("退款单号", max_length=64, db_index=True)
    refund_status = models.CharField("退款状态", max_length=32)
    raw_xml = models.TextField("原始报文")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)

    class Meta:
        verbose_name = "退款通知"
        verbose_name_plural = "退款通知"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.out_refund_no


class RefundAction(models.TextChoices):
    """What a refund's audit row records, in operators' words."""

    CREATED = "created", "创建退款"
    SUBMITTED = "submitted", "微信已受理"
    SUBMIT_ERROR = "submit_error", "提交异常"
    FAILED = "failed", "退款失败"
    RETRIED = "retried", "重新发起"
    SUCCEEDED = "succeeded", "退款成功"


class RefundEvent(AuditEvent):
    """Audit trail of a refund: every transition and retry, in the same transaction."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="events")
    action = models.CharField("动作", max_length=32, choices=RefundAction.choices)
    from_status = models.CharField("原状态", max_length=16, choices=RefundStatus.choices, blank=True,
                                   default="")
    to_status = models.CharField("新状态", max_length=16, choices=RefundStatus.choices, blank=True,
                                 default="")

    class Meta(AuditEvent.Meta):
        verbose_name = "退款日志"
        verbose_name_plural = "退款日志"

    def __str__(self) -> str:
        return f"{self.refund_id}:{self.action}"


REFUND_MACHINE = StateMachine(
    model=Refund, table=REFUND_TRANSITIONS, event_model=RefundEvent, event_subject="refund", noun="退款单",
    error=RefundInvalidTransition, not_found=RefundNotFound, progress=REFUND_PROGRESS,
)
