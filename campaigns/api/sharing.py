"""Shares and invitations in the mini-program.

    POST /api/v1/shares                          {kind, target, via_share_no} → 201 {share_no, scene, ...}
    POST /api/v1/shares/{share_no}/visits        {scene, device_id} → 201 {new_member}
    GET  /api/v1/invitations/mine                我邀请的好友 and what each earned me (paginated)

The mini-program records a share before it shows the share card or the poster (the card's path
and the poster's scene carry `share_no`), and reports a visit once the member who opened a card
or scanned a poster is logged in, with the entry scene of wx.getLaunchOptionsSync(). The visit is
what credits a new member (and an invited friend) to the share.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.errors import ShareNotFound
from campaigns.models import Invitation, ShareKind
from campaigns.selectors.sharing import invitations_for_inviter
from campaigns.services.sharing import share_create, share_visit_record
from core.api.pagination import PageNumberPagination
from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer
from core.api.throttles import per_member
from core.privacy import mask_name
from members.api.views import current_member

INVALID_KIND = ApiError(400, "invalid_share_kind", "分享内容类型有误")


class ShareInput(InputSerializer):
    kind = serializers.ChoiceField(choices=ShareKind.choices,
                                   help_text="product 商品 / group 拼团 / bargain 砍价 / invitation 邀请好友 / "
                                             "coupon 优惠券 / page 页面")
    target = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                   help_text="分享的对象：商品 ID、拼团号、砍价单号、页面路径等")
    via_share_no = serializers.CharField(max_length=16, required=False, allow_blank=True, default="",
                                         help_text="我是通过哪个分享进来的（页面参数中的 share），用于传播链")


class ShareOutput(serializers.Serializer):
    share_no = serializers.CharField(help_text="分享编号：放进分享卡片的 path（?share=）和海报的 scene")
    scene = serializers.CharField(help_text="小程序码 scene（≤32 字符）：s=<share_no>")
    kind = serializers.CharField()
    target = serializers.CharField()
    depth = serializers.IntegerField(help_text="传播层级：1 为首次分享")


class VisitInput(InputSerializer):
    scene = serializers.IntegerField(min_value=1000, max_value=9999, required=False, allow_null=True,
                                     help_text="进入场景值（wx.getLaunchOptionsSync().scene），如 1007 单聊卡片")
    device_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="",
                                      help_text="小程序生成并保存在本机的设备标识（用于防刷）")


class VisitOutput(serializers.Serializer):
    recorded = serializers.BooleanField(help_text="false：打开的是自己的分享，不计访问")
    new_member = serializers.BooleanField(help_text="本次计为该分享带来的新会员")


class InvitationOutput(serializers.Serializer):
    nickname = serializers.SerializerMethodField()
    invited_at = serializers.DateTimeField(source="created_at")
    rewards = serializers.SerializerMethodField(help_text="这位好友为我带来的奖励：trigger、outcome、points")

    def get_nickname(self, obj: Invitation) -> str:
        return mask_name(getattr(obj, "invitee_nickname", "") or "微信用户")

    def get_rewards(self, obj: Invitation) -> list[dict[str, Any]]:
        return [{"trigger": r.trigger, "trigger_label": r.get_trigger_display(), "outcome": r.outcome,
                 "outcome_label": r.get_outcome_display(), "points": r.points} for r in obj.rewards.all()]


class ShareCreateView(APIView):
    throttle_classes = [per_member("share")]

    @extend_schema(operation_id="shares_create", request=ShareInput, responses={201: ShareOutput},
                   description="记录一次分享，返回分享编号（分享本身不发奖励）。")
    @errors(INVALID_KIND)
    def post(self, request: Request) -> Response:
        data = ShareInput(data=request.data)
        data.is_valid(raise_exception=True)
        share = share_create(member_id=current_member(request).pk, **data.validated_data)
        body = {"share_no": share.share_no, "scene": f"s={share.share_no}", "kind": share.kind,
                "target": share.target, "depth": share.depth}
        return Response(ShareOutput(body).data, status=status.HTTP_201_CREATED)


class ShareVisitView(APIView):
    throttle_classes = [per_member("share")]

    @extend_schema(operation_id="shares_visit", request=VisitInput, responses={201: VisitOutput},
                   description="登录后上报：我打开了这个分享（带进入场景值）。刚注册的会员计为该分享带来的新会员；"
                               "通过邀请分享注册的，计入邀请人。错误码：share_not_found (404)。")
    @errors(ShareNotFound)
    def post(self, request: Request, share_no: str) -> Response:
        data = VisitInput(data=request.data)
        data.is_valid(raise_exception=True)
        visit = share_visit_record(member_id=current_member(request).pk, share_no=share_no,
                                   scene=data.validated_data.get("scene"), device_id=data.validated_data["device_id"])
        body = {"recorded": visit is not None, "new_member": bool(visit and visit.is_new_member)}
        return Response(VisitOutput(body).data, status=status.HTTP_201_CREATED)


class MyInvitationsView(generics.ListAPIView):
    serializer_class = InvitationOutput
    pagination_class = PageNumberPagination
    queryset = Invitation.objects.none()

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Invitation.objects.none()
        return invitations_for_inviter(member_id=current_member(self.request).pk)

    @extend_schema(operation_id="invitations_mine",
                   description="我邀请的好友（昵称打码）及每位好友带来的奖励，最新的在前。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


urlpatterns: list[URLPattern] = [
    path("shares", ShareCreateView.as_view(), name="share-create"),
    path("shares/<number:share_no>/visits", ShareVisitView.as_view(), name="share-visit"),
    path("invitations/mine", MyInvitationsView.as_view(), name="invitations-mine"),
]
