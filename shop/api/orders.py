"""Checkout preview, orders and paying for them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import (
    BargainLaunchNotFound,
    BargainNotBuyable,
    BargainPriceChanged,
    BargainSoldOut,
    CouponCombinationInvalid,
    CouponNotFound,
    CouponUnavailable,
    FlashBudgetExhausted,
    FlashItemNotFound,
    FlashLimitExceeded,
    FlashNotActive,
    FlashSoldOut,
)
from campaigns.models import CouponKind
from campaigns.pricing import COUPON_REASONS, CouponVerdict
from catalog.errors import InsufficientStock, NotDeliverable, ProductUnavailable
from core.api.headers import idempotency_header, idempotency_key
from core.api.media import ImageUrlField, media_url
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.audit import Actor
from core.errors import DomainError, UpstreamError, ValidationFailed
from core.idempotency import IdempotencyKeyReused
from members.api.views import current_member
from members.errors import PointsInsufficient
from payments.errors import TradeMismatch
from shop import selectors
from shop.errors import (
    AddressRequired,
    EarlyAccessOnly,
    EmptyOrder,
    InvalidTransition,
    OrderExpired,
    OrderNotFound,
    PointsExceedLimit,
    PriceChanged,
)
from shop.models import Order, OrderStatus, RefundState
from shop.pricing import STAGE_LABELS, Quote
from shop.services import orders as order_services
from shop.services import payments as payment_services
from shop.services.orders import CheckoutInput, LineInput
from wechat.errors import TradeAlreadyPaid, TradeClosed
from wechat.serializers import RequestPaymentParams

MAX_ID = 2**63 - 1
IDEMPOTENCY_HEADER = idempotency_header("同一 key 与相同请求体重放时返回首次结果；不同请求体返回 409")

# What pricing a checkout can refuse (order_services.checkout_price), for the preview and the order.
CHECKOUT_ERRORS: tuple[ApiError | type[DomainError], ...] = (
    EmptyOrder, ProductUnavailable, EarlyAccessOnly, NotDeliverable,
    ApiError(400, "flash_item_conflict", "同一商品不能同时以秒杀价和其他价格购买"),
    ApiError(400, "address_not_found", "address_id 不是你的收货地址"),
    PointsExceedLimit, PointsInsufficient, FlashItemNotFound, FlashNotActive, FlashLimitExceeded,
    CouponNotFound, CouponCombinationInvalid, CouponUnavailable, BargainLaunchNotFound, BargainNotBuyable,
    ApiError(400, "bargain_line_invalid", "砍价商品只能购买 1 件，且不能与同一商品的其他价格同时购买"),
    *(ApiError(409, code, f"优惠券不可用：{note}") for code, note in COUPON_REASONS.items()),
)
# Placing the order adds what taking stock, coupons and points can refuse (order_services.order_place).
PLACE_ERRORS = (
    *CHECKOUT_ERRORS, AddressRequired, PriceChanged, FlashSoldOut, FlashBudgetExhausted, InsufficientStock,
    BargainPriceChanged, BargainSoldOut,
    ApiError(400, "invalid_quantity", "秒杀商品数量有误"), IdempotencyKeyReused,
)


class CheckoutInputSerializer(InputSerializer):
    class Item(serializers.Serializer):
        sku_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        quantity = serializers.IntegerField(min_value=1, max_value=999)
        flash_item_id = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, required=False, allow_null=True,
            help_text="以秒杀价购买：秒杀商品 ID（秒杀场次接口中的 items[].id）")
        bargain_launch_id = serializers.IntegerField(
            min_value=1, max_value=MAX_ID, required=False, allow_null=True,
            help_text="以砍价价购买：我的砍价记录 ID（砍价接口中的 launch.id），数量须为 1")

    items = Item(many=True, required=False, max_length=100,  # type: ignore[call-arg]
                 help_text="留空则结算购物车中已选中的商品")
    address_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    remark = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    expected_payable_fen = serializers.IntegerField(
        min_value=0, max_value=MAX_ID, required=False, allow_null=True,
        help_text="预览时的应付金额；与实际不一致时返回 409 price_changed")
    coupon_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, allow_null=True,
        max_length=2, help_text="使用的优惠券：不传或 null 时自动选择最优组合（至多一张商品券加一张运费券），"
                                "[] 表示不用券")
    points = serializers.IntegerField(
        min_value=0, max_value=MAX_ID, required=False, default=0,
        help_text="使用的积分（100 积分 = ¥1，至多抵扣商品应付金额的 50%，须为整数）；不传或 0 表示不用积分。"
                  "超过本单上限返回 409 points_exceed_limit，超过余额返回 409 points_insufficient，"
                  "detail.max_points 为本单最多可用积分")

    def to_checkout(self) -> CheckoutInput:
        data = self.validated_data
        coupon_ids = data.get("coupon_ids")
        return CheckoutInput(
            items=tuple(LineInput(i["sku_id"], i["quantity"], i.get("flash_item_id"), i.get("bargain_launch_id"))
                        for i in data.get("items", [])),
            address_id=data.get("address_id"), remark=data.get("remark", ""),
            expected_payable_fen=data.get("expected_payable_fen"),
            coupon_ids=None if coupon_ids is None else tuple(sorted(set(coupon_ids))),
            points=data.get("points") or 0,
        )


# Every pricing stage, for the adjustments' and the summaries' `stage` (shop.pricing.STAGE_LABELS).
STAGE_CHOICES = list(STAGE_LABELS.items())


class AdjustmentOutput(serializers.Serializer):
    stage = serializers.ChoiceField(choices=STAGE_CHOICES, help_text="优惠环节")
    label = serializers.CharField()  # type: ignore[assignment]
    amount_fen = serializers.IntegerField()


class AddressOutput(serializers.Serializer):
    id = serializers.IntegerField()
    receiver_name = serializers.CharField()
    phone = serializers.CharField()
    province = serializers.CharField()
    city = serializers.CharField()
    district = serializers.CharField()
    detail = serializers.CharField()


class PreviewLineOutput(serializers.Serializer):
    sku_id = serializers.IntegerField(source="line.sku_id")
    product_id = serializers.IntegerField(source="line.product_id")
    product_name = serializers.CharField(source="line.product_name")
    spec_text = serializers.CharField(source="line.spec_text")
    image_url = ImageUrlField(source="line.image_url", help_text="商品主图（绝对地址）")
    unit_price_fen = serializers.IntegerField(source="line.unit_price_fen")
    quantity = serializers.IntegerField(source="line.quantity")
    goods_total_fen = serializers.IntegerField()
    discount_fen = serializers.IntegerField()
    payable_fen = serializers.IntegerField()
    adjustments = AdjustmentOutput(many=True)


class CouponOptionOutput(serializers.Serializer):
    id = serializers.IntegerField(source="coupon.coupon_id")
    template_id = serializers.IntegerField(source="coupon.template_id")
    name = serializers.CharField(source="coupon.name")
    kind = serializers.ChoiceField(source="coupon.kind", choices=CouponKind.choices)
    kind_label = serializers.SerializerMethodField()
    threshold_fen = serializers.IntegerField(source="coupon.threshold_fen")
    amount_fen = serializers.IntegerField(source="coupon.amount_fen")
    pay_percent = serializers.IntegerField(source="coupon.pay_percent", allow_null=True)
    max_discount_fen = serializers.IntegerField(source="coupon.max_discount_fen", allow_null=True)
    valid_from = serializers.DateTimeField(source="coupon.valid_from")
    valid_until = serializers.DateTimeField(source="coupon.valid_until")
    usable = serializers.BooleanField()
    discount_fen = serializers.IntegerField(help_text="用于本单可抵扣的金额（分）；不可用时为 0")
    reason_code = serializers.CharField(help_text="不可用的原因代码：coupon_threshold_not_met、coupon_not_applicable、"
                                                  "coupon_not_started、coupon_expired、coupon_not_stackable、"
                                                  "coupon_no_freight；可用时为空")
    reason = serializers.CharField(help_text="不可用的原因（中文，门槛未达到时说明还差多少）")
    selected = serializers.SerializerMethodField()

    def get_kind_label(self, verdict: CouponVerdict) -> str:
        return str(CouponKind(verdict.coupon.kind).label)

    def get_selected(self, verdict: CouponVerdict) -> bool:
        return verdict.coupon.coupon_id in self.context.get("selected", ())


class CouponsOutput(serializers.Serializer):
    selected_ids = serializers.ListField(child=serializers.IntegerField(),
                                         help_text="本单使用的优惠券（至多一张商品券加一张运费券）")
    auto = serializers.BooleanField(help_text="true：系统自动选择的最优组合；false：按 coupon_ids 使用")
    usable = CouponOptionOutput(many=True)
    unusable = CouponOptionOutput(many=True)


class PointsOutput(serializers.Serializer):
    balance = serializers.IntegerField(help_text="积分余额")
    max_points = serializers.IntegerField(help_text="本单最多可用积分（整数，至多抵扣商品应付金额的 50%，不超过余额）")
    max_value_fen = serializers.IntegerField(help_text="最多可用积分可抵扣的金额（分）")
    used = serializers.IntegerField(help_text="本单使用的积分")
    used_fen = serializers.IntegerField(help_text="本单积分抵扣的金额（分）")


class PreviewOutput(serializers.Serializer):
    lines = PreviewLineOutput(many=True)
    address = AddressOutput(allow_null=True)
    goods_total_fen = serializers.IntegerField()
    discount_fen = serializers.IntegerField()
    freight_fen = serializers.IntegerField()
    freight_discount_fen = serializers.IntegerField(help_text="运费券抵扣的运费（分）")
    payable_fen = serializers.IntegerField(help_text="商品金额 − 优惠 + 运费 − 运费券抵扣")
    stages = AdjustmentOutput(many=True, help_text="各环节汇总：秒杀价、会员价（每种折扣一行，"
                                                   "标明等级折扣、会员卡折扣、叠加或最低售价）、满减（每个活动一行，带活动名称）、"
                                                   "优惠券、积分抵扣、运费、运费券")
    coupons = CouponsOutput()
    points = PointsOutput()
    free_shipping_by_tier = serializers.BooleanField(help_text="true：会员等级包邮门槛已达到，运费为 0")


class CheckoutPreviewView(APIView):
    @errors(*CHECKOUT_ERRORS)
    @extend_schema(operation_id="checkout_preview",
                   description="结算预览：逐行价格、各项优惠、可用与不可用的券、积分、运费。",
                   request=CheckoutInputSerializer,
                   responses={200: PreviewOutput})
    def post(self, request: Request) -> Response:
        data = CheckoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        checkout = order_services.checkout_price(member=current_member(request), data=data.to_checkout())
        q: Quote = checkout.quote
        verdicts = q.coupons.verdicts
        body = {"lines": q.lines, "address": checkout.address, "goods_total_fen": q.goods_total_fen,
                "discount_fen": q.discount_fen, "freight_fen": q.freight_fen,
                "freight_discount_fen": q.freight_discount_fen, "payable_fen": q.payable_fen, "stages": q.stages,
                "coupons": {"selected_ids": q.coupons.selected_ids, "auto": q.coupons.auto,
                            "usable": [v for v in verdicts if v.usable],
                            "unusable": [v for v in verdicts if not v.usable]},
                "points": q.points, "free_shipping_by_tier": q.free_shipping_by_tier}
        return Response(PreviewOutput(body, context={"selected": set(q.coupons.selected_ids), "request": request}).data)


class OrderLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku_id = serializers.IntegerField()
    product_id = serializers.IntegerField(source="product_id_snapshot")
    product_name = serializers.CharField()
    spec_text = serializers.CharField()
    image_url = ImageUrlField(help_text="下单时的商品主图（绝对地址）")
    unit_price_fen = serializers.IntegerField()
    quantity = serializers.IntegerField()
    goods_total_fen = serializers.IntegerField()
    discount_fen = serializers.IntegerField()
    payable_fen = serializers.IntegerField()


class OrderLineDetailOutput(OrderLineOutput):
    adjustments = AdjustmentOutput(many=True, source="adjustments.all")


class ShipmentOutput(serializers.Serializer):
    carrier = serializers.CharField()
    tracking_no = serializers.CharField()
    shipped_at = serializers.DateTimeField()


class AppliedCouponOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CouponKind.choices)
    discount_fen = serializers.IntegerField()


class OrderOutput(serializers.Serializer):
    order_no = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    refund_state = serializers.ChoiceField(choices=RefundState.choices,
                                           help_text="none / partial（部分退款）/ full（已全额退款）")
    refund_state_label = serializers.CharField(source="get_refund_state_display")
    refunded_fen = serializers.IntegerField()
    goods_total_fen = serializers.IntegerField()
    discount_fen = serializers.IntegerField()
    freight_fen = serializers.IntegerField()
    freight_discount_fen = serializers.IntegerField(help_text="运费券抵扣的运费（分）")
    points_used = serializers.IntegerField(help_text="下单使用的积分")
    points_fen = serializers.IntegerField(help_text="积分抵扣的金额（分），已含在 discount_fen 中")
    payable_fen = serializers.IntegerField()
    paid_fen = serializers.IntegerField()
    item_count = serializers.IntegerField()
    lines = OrderLineOutput(many=True, source="lines.all")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)


class OrderDetailOutput(OrderOutput):
    lines = OrderLineDetailOutput(many=True, source="lines.all")  # type: ignore[assignment]
    receiver_name = serializers.CharField()
    receiver_phone = serializers.CharField()
    province = serializers.CharField()
    city = serializers.CharField()
    district = serializers.CharField()
    address_detail = serializers.CharField()
    buyer_remark = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancel_reason = serializers.CharField()
    shipments = ShipmentOutput(many=True, source="shipments.all")
    coupons = AppliedCouponOutput(many=True, source="applied_coupons", help_text="下单时使用的优惠券")


_DATETIME = serializers.DateTimeField()  # stateless: formats as every DateTimeField above does


def _when(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def new_order_data(order: Order, request: Request) -> dict[str, Any]:
    """OrderDetailOutput(order).data for an order order_place() has just written (lines and their
    adjustments attached, no shipments), built directly: the same keys, order and values (the
    placement test compares it with the order's detail), without instantiating DRF's fields for
    every line on the hot path."""
    lines = list(order.lines.all())
    return {
        "order_no": order.order_no, "status": str(order.status), "status_label": order.get_status_display(),
        "refund_state": str(order.refund_state), "refund_state_label": order.get_refund_state_display(),
        "refunded_fen": order.refunded_fen, "goods_total_fen": order.goods_total_fen,
        "discount_fen": order.discount_fen, "freight_fen": order.freight_fen,
        "freight_discount_fen": order.freight_discount_fen, "points_used": order.points_used,
        "points_fen": order.points_fen, "payable_fen": order.payable_fen, "paid_fen": order.paid_fen,
        "item_count": sum(line.quantity for line in lines),
        "lines": [{
            "id": line.pk, "sku_id": line.sku_id, "product_id": line.product_id_snapshot,
            "product_name": line.product_name, "spec_text": line.spec_text,
            "image_url": media_url(line.image_url, request=request), "unit_price_fen": line.unit_price_fen,
            "quantity": line.quantity, "goods_total_fen": line.goods_total_fen, "discount_fen": line.discount_fen,
            "payable_fen": line.payable_fen,
            "adjustments": [{"stage": a.stage, "label": a.label, "amount_fen": a.amount_fen}
                            for a in line.adjustments.all()],
        } for line in lines],
        "created_at": _when(order.created_at), "expires_at": _when(order.expires_at), "paid_at": _when(order.paid_at),
        "receiver_name": order.receiver_name, "receiver_phone": order.receiver_phone, "province": order.province,
        "city": order.city, "district": order.district, "address_detail": order.address_detail,
        "buyer_remark": order.buyer_remark, "shipped_at": _when(order.shipped_at),
        "received_at": _when(order.received_at), "cancelled_at": _when(order.cancelled_at),
        "cancel_reason": order.cancel_reason,
        "shipments": [{"carrier": s.carrier, "tracking_no": s.tracking_no, "shipped_at": _when(s.shipped_at)}
                      for s in order.shipments.all()],
        "coupons": [{"id": c["id"], "name": c["name"], "kind": c["kind"], "discount_fen": c["discount_fen"]}
                    for c in order.applied_coupons],
    }


class OrderListView(generics.ListAPIView):
    serializer_class = OrderOutput
    queryset = Order.objects.none()  # for the schema; get_queryset() scopes by member

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        status_filter = self.request.query_params.get("status")
        if status_filter and status_filter not in OrderStatus.values:
            raise ValidationFailed("未知的订单状态", code="invalid_status", detail={"status": status_filter})
        return selectors.order_list_for_member(member=current_member(self.request), status=status_filter)

    @errors(ApiError(400, "invalid_status", "status 不是订单状态"))
    @extend_schema(operation_id="orders_list",
                   description="我的订单，最新的在前；可按状态筛选（status 为订单状态）。", parameters=[
        OpenApiParameter("status", str, enum=OrderStatus.values, required=False,
                         description="订单状态；不传或为空：全部")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @errors(*PLACE_ERRORS)
    @extend_schema(operation_id="orders_create",
                   description="按结算预览的输入下单，占用库存、券与积分。", request=CheckoutInputSerializer,
                   parameters=[IDEMPOTENCY_HEADER], responses={201: OrderDetailOutput})
    def post(self, request: Request) -> Response:
        key = idempotency_key(request)
        data = CheckoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        order, replayed = order_services.order_place(member=member, data=data.to_checkout(),
                                                     idempotency_key=key)
        if not replayed:  # a new order comes back as written (lines attached)
            return Response(new_order_data(order, request), status=status.HTTP_201_CREATED)
        detail = selectors.order_detail_for_member(member=member, order_no=order.order_no)
        return Response(OrderDetailOutput(detail, context={"request": request}).data, status=status.HTTP_201_CREATED,
                        headers={"Idempotent-Replayed": "true"})


class OrderCountsOutput(serializers.Serializer):
    pending_payment = serializers.IntegerField(help_text="待付款订单数")
    paid = serializers.IntegerField(help_text="待发货订单数")
    shipped = serializers.IntegerField(help_text="待收货（已发货）订单数")
    to_review = serializers.IntegerField(help_text="待评价的商品数（已收货、未评价、未全部退款的订单行）")
    after_sales_open = serializers.IntegerField(help_text="处理中的退款/售后数")


class OrderCountsView(APIView):
    @extend_schema(operation_id="orders_counts", responses={200: OrderCountsOutput},
                   description="「我的」页订单角标：待付款、待发货、待收货、待评价、退款/售后各有几笔。")
    def get(self, request: Request) -> Response:
        return Response(OrderCountsOutput(selectors.order_counts_for_member(member=current_member(request))).data)


class OrderDetailView(APIView):
    @errors(OrderNotFound)
    @extend_schema(operation_id="orders_retrieve",
                   description="订单详情：商品、各项优惠、收货信息、包裹与所用的券。",
                   responses={200: OrderDetailOutput})
    def get(self, request: Request, order_no: str) -> Response:
        order = selectors.order_detail_for_member(member=current_member(request), order_no=order_no)
        return Response(OrderDetailOutput(order, context={"request": request}).data)


class OrderPayView(APIView):
    @errors(OrderNotFound, InvalidTransition, OrderExpired, TradeMismatch, TradeAlreadyPaid, TradeClosed,
            UpstreamError)
    @extend_schema(operation_id="orders_pay",
                   description="支付订单：返回 wx.requestPayment 的参数。",
                   request=None, parameters=[IDEMPOTENCY_HEADER],
                   responses={200: RequestPaymentParams})
    def post(self, request: Request, order_no: str) -> Response:
        idempotency_key(request)  # prepay is idempotent per order by itself
        result = payment_services.order_prepay(member=current_member(request), order_no=order_no,
                                               client_ip=request.META.get("REMOTE_ADDR") or "127.0.0.1")
        return Response(RequestPaymentParams(result.request_payment).data)


class OrderCancelView(APIView):
    class CancelInput(InputSerializer):
        reason = serializers.CharField(max_length=100, required=False, default="买家取消", allow_blank=True)

    @errors(OrderNotFound, InvalidTransition, UpstreamError)
    @extend_schema(operation_id="orders_cancel",
                   description="取消待付款的订单，退还库存、券与积分。",
                   request=CancelInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={200: OrderDetailOutput})
    def post(self, request: Request, order_no: str) -> Response:
        idempotency_key(request)
        data = self.CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        order = order_services.order_get_for_member(member=member, order_no=order_no)
        payment_services.order_cancel_unpaid(order=order, reason=data.validated_data["reason"] or "买家取消",
                                             actor=Actor.MEMBER)
        detail = selectors.order_detail_for_member(member=member, order_no=order_no)
        return Response(OrderDetailOutput(detail, context={"request": request}).data)


class OrderConfirmReceiptView(APIView):
    @errors(OrderNotFound, InvalidTransition)
    @extend_schema(operation_id="orders_confirm_receipt",
                   description="确认收货（已发货的订单）。", request=None, responses={200: OrderDetailOutput})
    def post(self, request: Request, order_no: str) -> Response:
        member = current_member(request)
        order = order_services.order_get_for_member(member=member, order_no=order_no)
        order_services.order_confirm_receipt(order=order)
        detail = selectors.order_detail_for_member(member=member, order_no=order_no)
        return Response(OrderDetailOutput(detail, context={"request": request}).data)


