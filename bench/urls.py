"""The bench URLconf: the mall's URLs plus `GET /bench/ping`, the baseline endpoint.

Ping goes through everything a real endpoint does (gunicorn, WSGI, the middleware stack, DRF's
request/response cycle and JSON renderer) but reads no data, so a catalog endpoint's throughput
divided by ping's tells what the endpoint's own work costs on this machine.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404, handler500
from config.urls import urlpatterns as mall_urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


class PingView(APIView):
    """The minimal DRF endpoint: no authentication, no permission check, no query."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [path("bench/ping", PingView.as_view(), name="bench-ping"), *mall_urlpatterns]
