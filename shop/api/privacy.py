"""The member's copy of their personal information (GET /api/v1/me/export)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.throttles import per_member
from members.api.views import current_member
from shop.export import member_data_export


class MeExportView(APIView):
    throttle_classes = [per_member("data_export", reads=True)]

    @extend_schema(operation_id="me_export", responses={200: OpenApiTypes.OBJECT},
                   description="下载个人信息副本（JSON）：资料、收货地址、订单及售后、积分与成长值流水、优惠券、"
                               "会员卡购买、评价、签到、订阅消息授权、标签等，只含本人的数据。")
    def get(self, request: Request) -> Response:
        export = member_data_export(member=current_member(request))
        return Response(export, headers={"Content-Disposition": 'attachment; filename="my-data.json"'})
