"""The bench URLconf: the mall's URLs plus the two baseline endpoints.

`GET /bench/ping` goes through everything a real endpoint does (gunicorn, WSGI, the middleware
stack, DRF's request/response cycle and JSON renderer) but reads no data, so a catalog endpoint's
throughput divided by ping's tells what the endpoint's own work costs on this machine.

`POST /bench/minimal-order` is what any order placement must do, and nothing more: authenticate
the bearer token (the mall's own authentication class), then in one transaction one order row,
one line row and one conditional stock UPDATE on the SKU (the hot row last, as placement takes
it). Placement's throughput divided by its tells what pricing, coupons, the ledger and the audit
trail cost on top of the unavoidable writes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import connection, transaction
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404, handler500
from config.urls import urlpatterns as mall_urlpatterns
from shop.models import Order, OrderLine

__all__ = ["handler404", "handler500", "urlpatterns"]

MINIMAL_PRICE_FEN = 100


class PingView(APIView):
    """The minimal DRF endpoint: no authentication, no permission check, no query."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class MinimalOrderView(APIView):
    """The minimal write endpoint: token authentication (the default classes), then one order row,
    one line row and one conditional UPDATE of the SKU's stock in one transaction. The body is
    {"sku_id": n}; 409 when the stock is out."""

    def post(self, request: Request) -> Response:
        sku_id = int(request.data["sku_id"])
        member = request.user.member  # type: ignore[union-attr]
        now = timezone.now()
        with transaction.atomic():
            order = Order.objects.create(
                order_no=f"B{uuid.uuid4().int % 10**15:015d}", member=member, receiver_name="-",
                receiver_phone="-", province="-", city="-", address_detail="-",
                goods_total_fen=MINIMAL_PRICE_FEN, payable_fen=MINIMAL_PRICE_FEN,
                expires_at=now + dt.timedelta(minutes=30))
            OrderLine.objects.create(order=order, sku_id=sku_id, product_id_snapshot=0, product_name="-",
                                     sku_code="-", unit_price_fen=MINIMAL_PRICE_FEN, quantity=1,
                                     goods_total_fen=MINIMAL_PRICE_FEN, payable_fen=MINIMAL_PRICE_FEN)
            with connection.cursor() as cursor:
                cursor.execute("UPDATE catalog_stock SET available = available - 1 "
                               "WHERE sku_id = %s AND available >= 1", [sku_id])
                if cursor.rowcount != 1:
                    transaction.set_rollback(True)
                    return Response({"code": "insufficient_stock"}, status=409)
        return Response({"order_no": order.order_no}, status=201)


urlpatterns = [
    path("bench/ping", PingView.as_view(), name="bench-ping"),
    path("bench/minimal-order", MinimalOrderView.as_view(), name="bench-minimal-order"),
    *mall_urlpatterns,
]
