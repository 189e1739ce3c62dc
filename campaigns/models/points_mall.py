"""The points mall (积分商城): coupons and gifts members exchange for points.

    PointsMallItem      what is on offer: a coupon template or a physical gift, its price in points,
                        stock, a per-member limit and a window. Stock moves only by conditional UPDATE.
    PointsMallQuota     how many of an item a member has exchanged: the per-member limit is the WHERE
                        clause of a conditional UPDATE on this row.
    PointsExchange      one exchange: the points paid (a 积分兑换 row in the members ledger), the coupon
                        issued or the gift to ship (with the address it goes to).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class PointsMallItemKind(models.TextChoices):
    COUPON = "coupon", "优惠券"  # issued at once through campaigns.services.coupons.coupon_grant
    GIFT = "gift", "实物礼品"  # shipped by operators to the address on the exchange


class PointsMallItem(models.Model):
    name = models.CharField("名称", max_length=64)
    kind = models.CharField("类型", max_length=16, choices=PointsMallItemKind.choices)
    coupon_template = models.ForeignKey("campaigns.CouponTemplate", verbose_name="兑换的优惠券", null=True,
                                        blank=True, on_delete=models.PROTECT, related_name="points_mall_items")
    image_url = models.URLField("图片", max_length=500, blank=True, default="")
    description = models.CharField("说明", max_length=500, blank=True, default="")
    points_price = models.PositiveIntegerField("所需积分")
    stock_total = models.PositiveIntegerField("总库存")
    stock_left = models.IntegerField("剩余库存", editable=False)
    per_member_limit = models.PositiveSmallIntegerField("每人限兑", null=True, blank=True, default=1,
                                                        help_text="留空表示不限")
    starts_at = models.DateTimeField("开始时间", null=True, blank=True)
    ends_at = models.DateTimeField("结束时间", null=True, blank=True)
    is_active = models.BooleanField("上架", default=True)
    sort = models.PositiveIntegerField("排序", default=0, help_text="越小越靠前")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "积分商城商品"
        verbose_name_plural = "积分商城商品"
        ordering = ["sort", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(stock_left__gte=0), name="points_mall_stock_non_negative"),
            models.CheckConstraint(condition=Q(stock_left__lte=F("stock_total")),
                                   name="points_mall_stock_within_total"),
            models.CheckConstraint(condition=Q(points_price__gt=0), name="points_mall_price_positive"),
            models.CheckConstraint(
                condition=(Q(kind=PointsMallItemKind.COUPON, coupon_template__isnull=False)
                           | Q(kind=PointsMallItemKind.GIFT, coupon_template__isnull=True)),
                name="points_mall_coupon_item_has_template"),
            models.CheckConstraint(condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                                   name="points_mall_limit_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class PointsMallQuota(models.Model):
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(PointsMallItem, on_delete=models.CASCADE, related_name="quotas")
    exchanged = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "兑换计数"
        verbose_name_plural = "兑换计数"
        constraints = [models.UniqueConstraint(fields=["item", "member"], name="points_mall_quota_once")]


class PointsExchangeStatus(models.TextChoices):
    COMPLETED = "completed", "已完成"  # a coupon: issued with the exchange
    AWAITING_SHIPMENT = "awaiting_shipment", "待发货"  # a gift: the operator ships it
    SHIPPED = "shipped", "已发货"


class PointsExchange(models.Model):
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="points_exchanges")
    item = models.ForeignKey(PointsMallItem, verbose_name="商品", on_delete=models.PROTECT, related_name="exchanges")
    item_name = models.CharField("商品名称", max_length=64)
    points = models.PositiveIntegerField("消耗积分")
    status = models.CharField("状态", max_length=20, choices=PointsExchangeStatus.choices)
    points_entry = models.OneToOneField("members.PointsEntry", verbose_name="积分流水", null=True,
                                        on_delete=models.PROTECT, related_name="+")
    coupon = models.OneToOneField("campaigns.Coupon", verbose_name="发放的优惠券", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    # A gift goes to the address chosen at exchange time, copied here.
    receiver_name = models.CharField("收货人", max_length=32, blank=True, default="")
    receiver_phone = models.CharField("电话", max_length=20, blank=True, default="")
    address = models.CharField("收货地址", max_length=300, blank=True, default="")
    tracking_no = models.CharField("物流单号", max_length=64, blank=True, default="")
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, editable=False)
    request_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField("兑换时间", auto_now_add=True)
    shipped_at = models.DateTimeField("发货时间", null=True, blank=True)

    class Meta:
        verbose_name = "积分兑换记录"
        verbose_name_plural = "积分兑换记录"
        ordering = ["-id"]
        indexes = [models.Index(fields=["member", "-id"], name="points_exchange_member_recent")]
        constraints = [
            models.UniqueConstraint(fields=["member", "idempotency_key"], condition=Q(idempotency_key__isnull=False),
                                    name="points_exchange_idempotency_once"),
        ]

    def __str__(self) -> str:
        return f"{self.item_name}（{self.points} 积分）"
