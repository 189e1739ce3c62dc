"""After-sales (售后) for the mini-program, and WeChat's refund notifications.

    GET  /api/v1/after-sales/reasons                  the reasons to choose from
    GET  /api/v1/orders/{order_no}/after-sale-options what each line can still ask for, until when
    POST /api/v1/uploads/after-sale-photos            multipart `file` → 201 {id, url}
    POST /api/v1/after-sales/                         {order_no, kind, reason, description,
                                                       lines: [{order_line_id, quantity}],
                                                       photo_ids} → 201 (Idempotency-Key)
    GET  /api/v1/after-sales/                         the shopper's own, newest first (?status=)
    GET  /api/v1/after-sales/{after_sale_no}/         detail with lines, photos, refund, progress
    POST /api/v1/after-sales/{after_sale_no}/withdraw
    POST /api/v1/after-sales/{after_sale_no}/return-shipment  {carrier, tracking_no}
    POST /api/v1/payments/wechat/refund-notify        WeChat → us (XML, req_info encrypted)

Photos go up one per request (wx.uploadFile), then the request references their ids.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.headers import idempotency_key
from core.api.media import ImageUrlField
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.api.throttles import per_member
from core.api.uploads import UPLOAD_ERRORS, uploaded_image
from core.errors import ValidationFailed
from core.idempotency import IdempotencyKeyReused
from members.api.views import current_member
from payments.api.views import wechat_notify_answer
from shop import selectors
from shop.api.orders import IDEMPOTENCY_HEADER
from shop.errors import (
    AfterSaleInvalidTransition,
    AfterSaleNotFound,
    AfterSaleWindowClosed,
    MixedShipment,
    MoreThanBought,
    MoreThanLeft,
    NotShippedYet,
    OrderNotFound,
    OrderNotRefundable,
    RefundExceedsPaid,
)
from shop.models import AfterSale, AfterSaleKind, AfterSaleStatus, RefundState
from shop.models.aftersales import AfterSaleAction, AfterSaleReason
from shop.services import aftersales as services
from shop.services import refunds as refund_services
from wechat.api.parsers import RawBodyParser

MAX_ID = 2**63 - 1


def _absolute(request: Request | None, url: str) -> str:
    return request.build_absolute_uri(url) if request is not None else url


# --- output --------------------------------------------------------------------------------------


class ChoiceOutput(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]


@extend_schema_serializer(component_name="AfterSalePhotoOutput")  # reviews have a PhotoOutput too
class PhotoOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, photo: Any) -> str:
        return _absolute(self.context.get("request"), photo.image.url)


class AfterSaleLineOutput(serializers.Serializer):
    order_line_id = serializers.IntegerField()
    product_name = serializers.CharField(source="order_line.product_name")
    spec_text = serializers.CharField(source="order_line.spec_text")
    image_url = ImageUrlField(source="order_line.image_url")
    quantity = serializers.IntegerField()
    amount_fen = serializers.IntegerField(help_text="该商品本次退款金额（按实付分摊精确到分）")


class AfterSaleOutput(serializers.Serializer):
    after_sale_no = serializers.CharField()
    order_no = serializers.CharField(source="order.order_no")
    kind = serializers.ChoiceField(choices=AfterSaleKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.ChoiceField(choices=AfterSaleStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    reason = serializers.ChoiceField(choices=AfterSaleReason.choices)
    reason_label = serializers.CharField(source="get_reason_display")
    amount_fen = serializers.IntegerField(help_text="退款总额（含运费）")
    freight_fen = serializers.IntegerField(help_text="其中运费：仅整单未发货全部退款时退还")
    lines = AfterSaleLineOutput(many=True, source="lines.all")
    photos = PhotoOutput(many=True, source="photos.all")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class RefundOutput(serializers.Serializer):
    out_refund_no = serializers.CharField()
    amount_fen = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    succeeded_at = serializers.DateTimeField(allow_null=True)


class ProgressOutput(serializers.Serializer):
    action = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class AfterSaleDetailOutput(AfterSaleOutput):
    description = serializers.CharField()
    reject_reason = serializers.CharField()
    return_carrier = serializers.CharField()
    return_tracking_no = serializers.CharField()
    order_refund_state = serializers.ChoiceField(source="order.refund_state", choices=RefundState.choices)
    order_refund_state_label = serializers.CharField(source="order.get_refund_state_display",
                                                     help_text="订单退款状态：无退款 / 部分退款 / 已全额退款")
    refund = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    @extend_schema_field(RefundOutput(allow_null=True))
    def get_refund(self, after_sale: AfterSale) -> dict[str, Any] | None:
        refund = next(iter(after_sale.refunds.all()), None)
        return RefundOutput(refund).data if refund is not None else None

    @extend_schema_field(ProgressOutput(many=True))
    def get_progress(self, after_sale: AfterSale) -> list[dict[str, Any]]:
        rows = [{"action": e.action, "label": e.get_action_display(),
                 "note": e.note if e.action in (AfterSaleAction.REJECTED, AfterSaleAction.RETURN_SHIPPED) else "",
                 "created_at": e.created_at}
                for e in after_sale.events.all() if e.action not in services.AFTER_SALE_INTERNAL_ACTIONS]
        return list(ProgressOutput(rows, many=True).data)


# --- input ---------------------------------------------------------------------------------------


class AfterSaleInputSerializer(InputSerializer):
    class Line(serializers.Serializer):
        order_line_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        quantity = serializers.IntegerField(min_value=1, max_value=9999)

    order_no = serializers.CharField(max_length=32)
    kind = serializers.ChoiceField(choices=AfterSaleKind.choices)
    reason = serializers.ChoiceField(choices=AfterSaleReason.choices)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    lines = Line(many=True, min_length=1, max_length=services.MAX_LINES)  # type: ignore[call-arg]
    photo_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
                                      required=False, default=list, max_length=services.MAX_PHOTOS)

    def to_input(self) -> services.AfterSaleInput:
        data = self.validated_data
        return services.AfterSaleInput(
            order_no=data["order_no"], kind=data["kind"], reason=data["reason"],
            description=data.get("description", ""),
            lines=tuple(services.LineRequest(x["order_line_id"], x["quantity"]) for x in data["lines"]),
            photo_ids=tuple(data.get("photo_ids", [])),
        )


class LineOptionOutput(serializers.Serializer):
    order_line_id = serializers.IntegerField(source="line.id")
    product_name = serializers.CharField(source="line.product_name")
    spec_text = serializers.CharField(source="line.spec_text")
    image_url = ImageUrlField(source="line.image_url")
    quantity = serializers.IntegerField(source="line.quantity")
    payable_fen = serializers.IntegerField(source="line.payable_fen", help_text="该商品实付（已分摊全部优惠）")
    refunded_quantity = serializers.IntegerField(source="line.refunded_quantity")
    refunded_fen = serializers.IntegerField(source="line.refunded_fen")
    unshipped_left = serializers.IntegerField(help_text="未发货可退数量（仅退款，立即退回库存）")
    shipped_left = serializers.IntegerField(help_text="已发货可申请数量（仅退款或退货退款）")
    amount_all_fen = serializers.IntegerField(help_text="申请全部剩余数量可退金额（不含运费）")


class AfterSaleOptionsOutput(serializers.Serializer):
    order_no = serializers.CharField(source="order.order_no")
    open = serializers.BooleanField(help_text="当前能否申请售后")
    reason = serializers.CharField(help_text="不能申请时的原因")  # type: ignore[assignment]
    window_closes_at = serializers.DateTimeField(allow_null=True, help_text="确认收货后的售后截止时间")
    lines = LineOptionOutput(many=True)


# --- views ---------------------------------------------------------------------------------------


class AfterSaleReasonsView(APIView):
    @extend_schema(operation_id="after_sales_reasons",
                   description="申请售后可选的原因及其中文说明。", responses={200: ChoiceOutput(many=True)})
    def get(self, request: Request) -> Response:
        return Response([{"value": value, "label": label} for value, label in AfterSaleReason.choices])


class AfterSaleOptionsView(APIView):
    @errors(OrderNotFound)
    @extend_schema(operation_id="orders_after_sale_options", responses={200: AfterSaleOptionsOutput},
                   description="订单各商品还可申请售后的数量与金额、售后截止时间（仅供展示，提交时以服务端校验为准）。")
    def get(self, request: Request, order_no: str) -> Response:
        options = services.after_sale_options_for_member(member=current_member(request), order_no=order_no)
        return Response(AfterSaleOptionsOutput(options, context={"request": request}).data)


class AfterSalePhotoUploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [per_member("photo_upload")]

    @errors(*UPLOAD_ERRORS, ApiError(409, "too_many_pending_uploads", "未提交的图片过多"))
    @extend_schema(
        operation_id="after_sale_photos_upload",
        request={"multipart/form-data": inline_serializer("AfterSalePhotoUpload",
                                                          {"file": serializers.ImageField()})},
        responses={201: PhotoOutput},
        description="上传一张售后凭证图片（JPEG/PNG/WebP，≤ 5 MB，≤ 4000 万像素；去除元数据、随机文件名），"
                    "返回图片 id，提交售后申请时引用（最多 6 张）。错误码：image_invalid、"
                    "image_unsupported_format、image_too_large (413)、image_too_many_pixels、"
                    "too_many_pending_uploads。",
    )
    def post(self, request: Request) -> Response:
        upload = uploaded_image(request)
        photo = services.after_sale_photo_upload(member=current_member(request), upload=upload)
        return Response(PhotoOutput(photo, context={"request": request}).data, status=status.HTTP_201_CREATED)


class AfterSaleListView(generics.ListAPIView):
    serializer_class = AfterSaleOutput
    throttle_classes = [per_member("after_sale")]  # POST: a request; the list (GET) is not counted
    queryset = AfterSale.objects.none()  # for the schema; get_queryset() scopes by member

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return AfterSale.objects.none()
        status_filter = self.request.query_params.get("status")
        if status_filter and status_filter not in AfterSaleStatus.values:
            raise ValidationFailed("未知的售后状态", code="invalid_status", detail={"status": status_filter})
        return selectors.after_sale_list_for_member(member=current_member(self.request), status=status_filter)

    @errors(ApiError(400, "invalid_status", "status 不是售后状态"))
    @extend_schema(operation_id="after_sales_list",
                   description="我的售后单，最新的在前；可按状态筛选。", parameters=[
        OpenApiParameter("status", str, enum=AfterSaleStatus.values, required=False,
                         description="售后状态；不传或为空：全部")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @errors(OrderNotFound, OrderNotRefundable, AfterSaleWindowClosed, MoreThanBought, MoreThanLeft, MixedShipment,
            NotShippedYet, RefundExceedsPaid, IdempotencyKeyReused,
            ApiError(400, "after_sale_line_not_in_order", "所选商品不在该订单中"),
            ApiError(400, "after_sale_duplicate_line", "同一商品只能出现一次"),
            ApiError(400, "too_many_photos", "图片重复"),
            ApiError(400, "after_sale_photo_not_found", "图片不存在或已被使用"),
            ApiError(503, "after_sale_number_busy", "请稍后再试"))
    @extend_schema(
        operation_id="after_sales_create", request=AfterSaleInputSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: AfterSaleDetailOutput},
        description="申请售后：仅退款（未发货随时可申请；已发货/已收货不退货）或退货退款，按商品与数量。"
                    "收货后 7 天内可申请。每件商品按实付分摊精确退款；运费仅在整单未发货且全部退款时退还。"
                    "错误码：order_not_found (404)、order_not_refundable、after_sale_window_closed、"
                    "after_sale_more_than_bought (400)、after_sale_more_than_left、after_sale_mixed_shipment、"
                    "after_sale_not_shipped、refund_exceeds_paid、after_sale_photo_not_found。",
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key(request)
        data = AfterSaleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        after_sale, replayed = services.after_sale_request(member=member, data=data.to_input(), idempotency_key=key)
        detail = selectors.after_sale_detail_for_member(member=member, after_sale_no=after_sale.after_sale_no)
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(AfterSaleDetailOutput(detail, context={"request": request}).data,
                        status=status.HTTP_201_CREATED, headers=headers)


class AfterSaleDetailView(APIView):
    @errors(AfterSaleNotFound)
    @extend_schema(operation_id="after_sales_retrieve",
                   description="售后单详情：商品、金额、进度、退款状态与凭证照片。",
                   responses={200: AfterSaleDetailOutput})
    def get(self, request: Request, after_sale_no: str) -> Response:
        detail = selectors.after_sale_detail_for_member(member=current_member(request), after_sale_no=after_sale_no)
        return Response(AfterSaleDetailOutput(detail, context={"request": request}).data)


class AfterSaleWithdrawView(APIView):
    @errors(AfterSaleNotFound, AfterSaleInvalidTransition)
    @extend_schema(operation_id="after_sales_withdraw",
                   description="撤销尚未处理完的售后申请。", request=None, responses={200: AfterSaleDetailOutput})
    def post(self, request: Request, after_sale_no: str) -> Response:
        member = current_member(request)
        services.after_sale_withdraw(member=member, after_sale_no=after_sale_no)
        detail = selectors.after_sale_detail_for_member(member=member, after_sale_no=after_sale_no)
        return Response(AfterSaleDetailOutput(detail, context={"request": request}).data)


class AfterSaleReturnShipmentView(APIView):
    class ReturnInput(InputSerializer):
        carrier = serializers.CharField(max_length=32)
        tracking_no = serializers.CharField(max_length=64)

    @errors(AfterSaleNotFound, AfterSaleInvalidTransition,
            ApiError(400, "return_carrier_required", "请填写快递公司"),
            ApiError(400, "bad_tracking_no", "快递单号应为 6 到 32 位字母、数字或短横线"))
    @extend_schema(operation_id="after_sales_return_shipment", request=ReturnInput,
                   responses={200: AfterSaleDetailOutput},
                   description="退货退款审核通过后，填写寄回的快递公司与单号（可修改）。")
    def post(self, request: Request, after_sale_no: str) -> Response:
        data = self.ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = current_member(request)
        services.after_sale_submit_return(member=member, after_sale_no=after_sale_no,
                                          carrier=data.validated_data["carrier"],
                                          tracking_no=data.validated_data["tracking_no"])
        detail = selectors.after_sale_detail_for_member(member=member, after_sale_no=after_sale_no)
        return Response(AfterSaleDetailOutput(detail, context={"request": request}).data)


class WechatRefundNotifyView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    @extend_schema(
        operation_id="payments_wechat_refund_notify",
        description="微信支付退款结果通知（Pay v2 XML，req_info 以 md5(API 密钥) 做 AES-256-ECB 加密）。"
                    "校验 appid、mch_id，解密后核对退款单号与金额；按微信退款单号幂等。",
        request={"application/xml": OpenApiTypes.STR},
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="SUCCESS XML"),
                   400: OpenApiResponse(OpenApiTypes.STR, description="FAIL XML")},
    )
    def post(self, request: Request) -> HttpResponse:
        return wechat_notify_answer(request, refund_services.refund_handle_notify)


urlpatterns: list[URLPattern] = [
    path("after-sales/reasons", AfterSaleReasonsView.as_view(), name="after-sale-reasons"),
    path("orders/<number:order_no>/after-sale-options", AfterSaleOptionsView.as_view(),
         name="order-after-sale-options"),
    path("uploads/after-sale-photos", AfterSalePhotoUploadView.as_view(), name="after-sale-photo-upload"),
    path("after-sales/", AfterSaleListView.as_view(), name="after-sale-list"),
    path("after-sales/<number:after_sale_no>/", AfterSaleDetailView.as_view(), name="after-sale-detail"),
    path("after-sales/<number:after_sale_no>/withdraw", AfterSaleWithdrawView.as_view(), name="after-sale-withdraw"),
    path("after-sales/<number:after_sale_no>/return-shipment", AfterSaleReturnShipmentView.as_view(),
         name="after-sale-return-shipment"),
    path("payments/wechat/refund-notify", WechatRefundNotifyView.as_view(), name="payment-wechat-refund-notify"),
]
