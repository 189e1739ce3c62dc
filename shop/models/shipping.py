"""Shipping: carriers, which lines went in which package, tracking, and the WeChat upload."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Carrier(models.TextChoices):
    """Carriers by WeChat's delivery_id code (upload_shipping_info needs the code)."""

    SF = "SF", "顺丰速运"
    ZTO = "ZTO", "中通快递"
    YTO = "YTO", "圆通速递"
    YD = "YD", "韵达快递"
    STO = "STO", "申通快递"
    EMS = "EMS", "EMS"
    JD = "JD", "京东物流"
    JTSD = "JTSD", "极兔速递"


class ShipmentLine(models.Model):
    """How many units of an order line went into a package."""

    shipment = models.ForeignKey("shop.Shipment", on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey("shop.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.PositiveIntegerField("数量")

    class Meta:
        verbose_name = "包裹商品"
        verbose_name_plural = "包裹商品"
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="one_row_per_line_per_package"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="shipment_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class LogisticsState(models.TextChoices):
    UNKNOWN = "unknown", "暂无信息"
    COLLECTED = "collected", "已揽收"
    IN_TRANSIT = "in_transit", "运输中"
    DELIVERING = "delivering", "派送中"
    DELIVERED = "delivered", "已签收"
    PROBLEM = "problem", "异常"


class ShippingUploadState(models.TextChoices):
    PENDING = "pending", "待上传"
    UPLOADED = "uploaded", "已上传"
    FAILED = "failed", "上传失败"


class ShippingInfoUpload(models.Model):
    """The order's shipping information as uploaded to WeChat (funds stay frozen until it is)."""

    order = models.OneToOneField("shop.Order", on_delete=models.CASCADE, related_name="shipping_upload")
    state = models.CharField("状态", max_length=16, choices=ShippingUploadState.choices,
                             default=ShippingUploadState.PENDING, db_index=True)
    attempts = models.PositiveIntegerField("尝试次数", default=0)
    last_error = models.CharField("最近错误", max_length=300, blank=True, default="")
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True, db_index=True)
    uploaded_at = models.DateTimeField("上传时间", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "发货信息上传"
        verbose_name_plural = "发货信息上传"

    def __str__(self) -> str:
        return f"{self.order_id}:{self.state}"
