"""WeChat → us: payment notifications (Pay v2: XML, signed), for trades of every kind, answered in
WeChat's exact XML; and transfer notifications (Pay v3: JSON, signed, encrypted), answered as v3
expects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils.log import log_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from core.errors import DomainError
from payments.services import payment_gateway, payment_handle_notify, transfer_handle_notify
from wechat.api.parsers import MAX_CALLBACK_BYTES, RawBodyParser


class WechatPaymentNotifyView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    @extend_schema(
        operation_id="payments_wechat_notify",
        description="微信支付结果通知（Pay v2 XML）。校验签名、appid、mch_id 与金额；重复通知幂等。",
        request={"application/xml": OpenApiTypes.STR},
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="SUCCESS XML"),
                   400: OpenApiResponse(OpenApiTypes.STR, description="FAIL XML")},
    )
    def post(self, request: Request) -> HttpResponse:
        return wechat_notify_answer(request, payment_handle_notify)


def wechat_notify_answer(request: Request, handle: Callable[..., object]) -> HttpResponse:
    """Run `handle(body=...)` on a WeChat notification and answer in WeChat's exact XML:
    SUCCESS when handled (repeats included), FAIL with a 400 when refused (nothing changed),
    logged in one line that says why. A body over MAX_CALLBACK_BYTES is refused unparsed."""
    gateway = payment_gateway()
    body: bytes = request.data if isinstance(request.data, bytes) else b""
    try:
        if len(body) > MAX_CALLBACK_BYTES:
            raise DomainError("通知报文过大", code="notify_too_large")
        handle(body=body)
    except DomainError as exc:
        content, content_type = gateway.notify_nack(exc.message)
        response = HttpResponse(content, content_type=content_type, status=400)
        # One line that says why, instead of Django's bare "Bad Request: <path>" beside it.
        log_response("WeChat notify to %s refused (%s bytes): %s %s", request.path, len(body), exc.code,
                     exc.detail, response=response, request=request)
        return response
    content, content_type = gateway.notify_ack()
    return HttpResponse(content, content_type=content_type)


class WechatTransferNotifyView(APIView):
    """WeChat → us: a transfer bill reached its final state (Pay v3: signed JSON, encrypted resource).

    Answered as WeChat Pay v3 expects: 204 with no body when handled (repeats included); a 4xx (or
    5xx) with {"code": "FAIL", "message": …} when refused, and WeChat delivers it again later.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    @extend_schema(
        operation_id="payments_wechat_transfer_notify",
        description="微信支付商家转账结果通知（Pay v3，签名 + AEAD_AES_256_GCM 加密）。验签、解密、"
                    "核对金额与收款人；重复通知幂等。",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={204: OpenApiResponse(description="已处理"),
                   400: OpenApiResponse(OpenApiTypes.OBJECT, description='{"code": "FAIL", "message": "…"}')},
    )
    def post(self, request: Request) -> HttpResponse:
        body: bytes = request.data if isinstance(request.data, bytes) else b""
        try:
            if len(body) > MAX_CALLBACK_BYTES:
                raise DomainError("通知报文过大", code="notify_too_large")
            transfer_handle_notify(request.headers, body)
        except DomainError as exc:
            response = JsonResponse({"code": "FAIL", "message": exc.message}, status=exc.status,
                                    json_dumps_params={"ensure_ascii": False})
            log_response("WeChat transfer notify refused (%s bytes): %s %s", len(body), exc.code, exc.detail,
                         response=response, request=request)
            return response
        return HttpResponse(status=204)
