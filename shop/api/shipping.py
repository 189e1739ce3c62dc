"""The shopper's packages: GET /api/v1/orders/{order_no}/shipments.

Checkpoints come from the cache the tracking job keeps on each package (tracked_at says how
fresh); this endpoint never calls the logistics provider.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.media import ImageUrlField
from core.api.schema import errors
from members.api.views import current_member
from shop.errors import OrderNotFound
from shop.models import LogisticsState, Order, OrderLine, OrderStatus, Shipment
from shop.services.shipping import shipments_for_member, units_to_ship


class CheckpointOutput(serializers.Serializer):
    time = serializers.DateTimeField()
    text = serializers.CharField()
    location = serializers.CharField(allow_blank=True)
    state = serializers.CharField(allow_blank=True)


class PackageItemOutput(serializers.Serializer):
    order_line_id = serializers.IntegerField()
    product_name = serializers.CharField()
    spec_text = serializers.CharField()
    image_url = ImageUrlField()
    quantity = serializers.IntegerField()


class PackageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    carrier = serializers.CharField()
    carrier_code = serializers.CharField()
    tracking_no = serializers.CharField()
    shipped_at = serializers.DateTimeField()
    logistics_state = serializers.ChoiceField(choices=LogisticsState.choices)
    logistics_state_label = serializers.CharField()
    tracked_at = serializers.DateTimeField(allow_null=True, help_text="轨迹最近一次更新的时间")
    delivered_at = serializers.DateTimeField(allow_null=True)
    checkpoints = CheckpointOutput(many=True, help_text="物流轨迹，最新的在前")
    items = PackageItemOutput(many=True)


class OrderShipmentsOutput(serializers.Serializer):
    order_no = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    status_label = serializers.CharField()
    shipments = PackageOutput(many=True)
    unshipped = PackageItemOutput(many=True, help_text="尚未发出的商品（部分发货时）")


def _item(line: OrderLine, quantity: int) -> dict[str, Any]:
    return {"order_line_id": line.pk, "product_name": line.product_name, "spec_text": line.spec_text,
            "image_url": line.image_url, "quantity": quantity}


def _shipment(shipment: Shipment) -> dict[str, Any]:
    state = shipment.logistics_state
    return {
        "id": shipment.pk, "carrier": shipment.carrier, "carrier_code": shipment.carrier_code,
        "tracking_no": shipment.tracking_no, "shipped_at": shipment.shipped_at,
        "logistics_state": state,
        "logistics_state_label": LogisticsState(state).label if state in LogisticsState.values else state,
        "tracked_at": shipment.tracked_at, "delivered_at": shipment.delivered_at,
        "checkpoints": shipment.checkpoints or [],
        "items": [_item(sl.order_line, sl.quantity) for sl in shipment.lines.all()],
    }


def _body(order: Order, shipments: list[Shipment]) -> dict[str, Any]:
    left = {} if order.status == OrderStatus.CANCELLED else units_to_ship(order_id=order.pk,
                                                                          lines=order.lines.all())
    unshipped = [_item(line, left[line.pk]) for line in order.lines.all() if left.get(line.pk)]
    return {"order_no": order.order_no, "status": order.status, "status_label": order.get_status_display(),
            "shipments": [_shipment(s) for s in shipments], "unshipped": unshipped}


class OrderShipmentsView(APIView):
    @errors(OrderNotFound)
    @extend_schema(operation_id="orders_shipments",
                   description="订单的包裹与物流轨迹。", responses={200: OrderShipmentsOutput})
    def get(self, request: Request, order_no: str) -> Response:
        order, shipments = shipments_for_member(member=current_member(request), order_no=order_no)
        return Response(OrderShipmentsOutput(_body(order, shipments), context={"request": request}).data)


urlpatterns: list[URLPattern] = [
    path("orders/<number:order_no>/shipments", OrderShipmentsView.as_view(), name="order-shipments"),
]
