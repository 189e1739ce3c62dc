"""POST /api/v1/events: the mini-program's event batches (docs/analytics-events.md)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.parsers import EventBatchParser
from analytics.errors import AnalyticsUnavailable
from analytics.services.events import events_ingest
from core.api.schema import errors
from core.api.serializers import InputSerializer
from core.api.throttles import SAFE_METHODS, RateLimitThrottle
from core.ratelimit import rate_for, ratelimit_hits
from members.api.authentication import BearerTokenAuthentication

DEVICE_ID = r"^[A-Za-z0-9_.:\-]+$"
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{8,64}$")


class PlatformInput(serializers.Serializer):
    """What the mini-program knows of the phone (wx.getSystemInfo, wx.getNetworkType)."""

    platform = serializers.CharField(max_length=16, required=False, allow_blank=True,
                                     help_text="wx.getSystemInfo().platform：ios / android / windows / mac / devtools")
    os_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    model = serializers.CharField(max_length=64, required=False, allow_blank=True)
    brand = serializers.CharField(max_length=64, required=False, allow_blank=True)
    wechat_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    sdk_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    app_version = serializers.CharField(max_length=64, required=False, allow_blank=True)
    network = serializers.CharField(max_length=16, required=False, allow_blank=True,
                                    help_text="wx.getNetworkType()：wifi / 5g / 4g / 3g / 2g / none / unknown")
    screen_width = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    screen_height = serializers.IntegerField(min_value=0, max_value=100_000, required=False)


@extend_schema_field({"type": "object", "additionalProperties": {}})
class EventObject(serializers.Field):
    """One event of a batch: any JSON object, taken as it is. Its contents are judged event by
    event (analytics.catalogue.event_parse), so a bad one is refused alone; a DictField would walk
    every key of every event first, for nothing."""

    default_error_messages = {"invalid": "须为对象"}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class OptionalBearerTokenAuthentication(BearerTokenAuthentication):
    """The member when a valid token is sent; anonymous otherwise. An expired token must not cost
    the events it came with (the device id still says who sent them)."""

    def authenticate(self, request: Request) -> Any:
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            return None


class OptionalBearerTokenScheme(OpenApiAuthenticationExtension):
    """The same bearer token as everywhere, documented as optional: events may be sent without it."""

    target_class = "analytics.api.views.OptionalBearerTokenAuthentication"
    name = "OptionalBearerAuth"
    optional = True

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "可选：带上登录令牌时事件归属会员"}


class EventsRateThrottle(RateLimitThrottle):
    """Per client address and per device, both counted in one round trip: many phones share a
    carrier's address, and one device must not flood either. The device is the batch's
    `device_id` when it is a valid one (a malformed batch counts against its address only)."""

    scope = "events_address"
    device_scope = "events_device"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return True
        hits = [(self.scope, f"a{self.get_ident(request)}")]
        try:
            data = request.data  # parsed here, to find the device
        except Exception:
            # A body that cannot be read (413, 400) still counts against its address, as before
            # any other check; then its own error is the answer unless the address is over its limit.
            if not self._count(hits):
                return False
            raise
        device = data.get("device_id") if isinstance(data, dict) else None
        if isinstance(device, str) and _DEVICE_ID.match(device):
            hits.append((self.device_scope, f"d{device}"))
        return self._count(hits)

    def _count(self, hits: list[tuple[str, str]]) -> bool:
        decisions = ratelimit_hits(hits)
        refused = [decision for decision in decisions if not decision.allowed]
        self.decision = max(refused, key=lambda decision: decision.retry_after) if refused else decisions[0]
        return not refused


rate_for(EventsRateThrottle.scope)  # unknown scopes fail when the module is imported
rate_for(EventsRateThrottle.device_scope)


class EventsView(APIView):
    authentication_classes = [OptionalBearerTokenAuthentication]
    permission_classes = [AllowAny]
    parser_classes = [EventBatchParser]
    throttle_classes = [EventsRateThrottle]

    class BatchInput(InputSerializer):
        device_id = serializers.RegexField(DEVICE_ID, min_length=8, max_length=64,
                                           help_text="小程序生成并保存的匿名设备 ID")
        context = PlatformInput(required=False, help_text="设备与平台信息，随批次中每个事件保存")  # type: ignore[assignment]
        events = serializers.ListField(
            child=EventObject(), min_length=1, max_length=settings.ANALYTICS_MAX_BATCH,
            help_text="事件（见 docs/analytics-events.md）：event_id（UUID）、name、time（毫秒时间戳）、properties")

    class RefusalOutput(serializers.Serializer):
        index = serializers.IntegerField(help_text="事件在 events 中的下标")
        event_id = serializers.CharField(allow_null=True)
        code = serializers.CharField()
        reason = serializers.CharField()

    class BatchOutput(serializers.Serializer):
        accepted = serializers.IntegerField(help_text="收下的事件数（重发的事件只存一次）")
        refused = serializers.ListField(child=serializers.DictField(), help_text="拒收的事件及原因")

    @errors(AnalyticsUnavailable)
    @extend_schema(operation_id="events_ingest",
                   description=("上报埋点事件：每批最多 100 个（JSON，可 gzip 压缩），匿名"
                                "或带登录令牌均可。逐个校验：合格的入库（同一 event_id 只存一次"
                                "，重发无害），不合格的逐个说明原因，不影响同批其他事件。请求体过大返回 "
                                "413。事件目录见 docs/analytics-events.md。"),
                   request=BatchInput, responses={200: BatchOutput})
    def post(self, request: Request) -> Response:
        data = self.BatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        batch = data.validated_data
        member = getattr(request.user, "member", None)
        result = events_ingest(device_id=batch["device_id"], member_id=member.pk if member else None,
                               context=dict(batch.get("context") or {}), events=batch["events"])
        refused = [{"index": r.index, "event_id": r.event_id, "code": r.code, "reason": r.reason}
                   for r in result.refused]
        return Response({"accepted": result.accepted, "refused": refused})

