"""WeChat → us: the message push URL (消息推送), where WeChat delivers events such as the verdict
of an image check (wxa_media_check). Unauthenticated; what WeChat sends is verified by
wechat.push (the token's signature, and in safe mode the encryption).

    GET  /api/v1/wechat/messages?signature=&timestamp=&nonce=&echostr=   the URL check → echostr
    POST /api/v1/wechat/messages?signature=&timestamp=&nonce=[&encrypt_type=aes&msg_signature=]
         JSON or XML event → "success"
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.log import log_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError
from wechat.api.parsers import RawBodyParser
from wechat.push import push_echo, push_receive

SIGNATURE_PARAMETERS = [
    OpenApiParameter("signature", str, required=True, description="sha1(排序后的 token、timestamp、nonce)"),
    OpenApiParameter("timestamp", str, required=True),
    OpenApiParameter("nonce", str, required=True),
]
ERRORS = {400: OpenApiResponse(OpenApiTypes.OBJECT, description="invalid_push：无法识别的推送"),
          403: OpenApiResponse(OpenApiTypes.OBJECT, description="push_signature_invalid：签名错误")}


class MessagePushView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    @extend_schema(
        operation_id="wechat_messages_verify",
        description="微信消息推送服务器地址校验：签名正确时原样返回 echostr。",
        parameters=[*SIGNATURE_PARAMETERS, OpenApiParameter("echostr", str, required=True)],
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="echostr"), **ERRORS},
    )
    def get(self, request: Request) -> HttpResponse:
        echostr = push_echo(request.query_params)
        return HttpResponse(echostr, content_type="text/plain; charset=utf-8")

    @extend_schema(
        operation_id="wechat_messages_receive",
        description="微信消息推送（JSON 或 XML，明文或安全模式）：如图片内容安全检测结果 wxa_media_check。"
                    "按 trace_id 幂等；尚不认识的 trace_id 返回 404，微信会重推。",
        parameters=[*SIGNATURE_PARAMETERS, OpenApiParameter("encrypt_type", str, required=False),
                    OpenApiParameter("msg_signature", str, required=False)],
        request={"application/json": OpenApiTypes.OBJECT, "application/xml": OpenApiTypes.STR},
        responses={200: OpenApiResponse(OpenApiTypes.STR, description="success"), **ERRORS,
                   404: OpenApiResponse(OpenApiTypes.OBJECT, description="media_check_not_found")},
    )
    def post(self, request: Request) -> HttpResponse | Response:
        body: bytes = request.data if isinstance(request.data, bytes) else b""
        try:
            push_receive(body=body, query=request.query_params)
        except DomainError as exc:
            response = Response({"code": exc.code, "message": exc.message, "detail": exc.detail}, status=exc.status)
            # One line that says why, instead of Django's bare "Forbidden: <path>".
            log_response("WeChat push to %s refused: %s %s", request.path, exc.code, exc.detail,
                         response=response, request=request)
            return response
        return HttpResponse(b"success", content_type="text/plain; charset=utf-8")
