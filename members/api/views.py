"""Mini-program API for identity, profile and addresses. Views parse, call one service, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import ApiError, errors
from core.api.serializers import InputSerializer, StrictJsonTypes
from core.api.throttles import per_address, per_member
from core.errors import UpstreamError, ValidationFailed
from members import selectors, services
from members.errors import BirthdayLocked, InvalidBirthday, MemberDeleted, MemberDeletionBlocked, MemberNotFound
from members.models import Address, Gender, Member
from wechat.errors import InvalidCode

AVATAR_URL = r"^https?://[!-~]+$"
ADDRESS_NOT_FOUND = ApiError(404, "address_not_found", "收货地址不存在（或不是你的）")


def current_member(request: Request) -> Member:
    return request.user.member  # type: ignore[union-attr]


def optional_member(request: Request) -> Member | None:
    """The member behind a bearer token, or None on an operation anyone may call without one."""
    user = request.user
    return getattr(user, "member", None) if user is not None else None


class MemberOutput(serializers.ModelSerializer):
    avatar_url = serializers.CharField(help_text="头像地址：会员提交的 http(s) 地址，或空字符串")
    birthday_editable = serializers.SerializerMethodField(
        help_text="生日还能否由会员自己设置（设置一次后需联系客服修改）")

    class Meta:
        model = Member
        fields = ["id", "nickname", "avatar_url", "gender", "birthday", "birthday_editable", "province", "city",
                  "phone", "registered_at"]

    def get_birthday_editable(self, member: Member) -> bool:
        return member.birthday_set_at is None


class LoginView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [per_address("login")]

    class LoginInput(InputSerializer):
        code = serializers.CharField(max_length=128, help_text="wx.login() 返回的 code")

    class LoginOutput(serializers.Serializer):
        token = serializers.CharField()
        expires_at = serializers.DateTimeField()
        is_new_member = serializers.BooleanField()
        member = MemberOutput()

    @errors(InvalidCode, UpstreamError)
    @extend_schema(operation_id="auth_wechat_login",
                   description="用 wx.login() 的 code 登录，返回登录凭证（Bearer token）。", request=LoginInput,
                   responses={200: LoginOutput})
    def post(self, request: Request) -> Response:
        data = self.LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.member_login_wechat(code=data.validated_data["code"])
        body = {"token": result.token, "expires_at": result.expires_at, "is_new_member": result.created,
                "member": result.member}
        return Response(self.LoginOutput(body).data)


class LogoutView(APIView):
    @extend_schema(operation_id="auth_logout",
                   description="退出登录：当前登录凭证立即失效。", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.member_logout(token_id=request.user.token_id)  # type: ignore[union-attr]
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    class MeInput(InputSerializer):
        nickname = serializers.CharField(max_length=64, required=False, allow_blank=True)
        # What wx.getUserProfile and chooseAvatar give: an http(s) address in visible ASCII. Not a
        # URLField, whose host rules (labels of at most 63 characters...) a schema cannot state.
        avatar_url = serializers.RegexField(AVATAR_URL, max_length=500, required=False, allow_blank=True)
        gender = serializers.ChoiceField(choices=Gender.choices, required=False)
        birthday = serializers.DateField(required=False, allow_null=True)
        province = serializers.CharField(max_length=32, required=False, allow_blank=True)
        city = serializers.CharField(max_length=32, required=False, allow_blank=True)

    @extend_schema(operation_id="me_get",
                   description="我的资料。", responses={200: MemberOutput})
    def get(self, request: Request) -> Response:
        return Response(MemberOutput(current_member(request)).data)

    @errors(ValidationFailed, InvalidBirthday, BirthdayLocked, MemberDeleted)
    @extend_schema(operation_id="me_update", request=MeInput, responses={200: MemberOutput},
                   description="会员自己填写资料。生日只能设置一次：再次改成别的日期返回 409 birthday_locked，"
                               "本次请求的其它字段也不保存。")
    def patch(self, request: Request) -> Response:
        data = self.MeInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        member = services.member_profile_update(member=current_member(request), changes=data.validated_data)
        return Response(MemberOutput(member).data)

    @errors(MemberNotFound, MemberDeletionBlocked)
    @extend_schema(operation_id="me_delete", request=None, responses={204: None},
                   description="注销账号：个人资料匿名化（昵称改为“已注销用户”，清空头像、手机号、生日、地区，"
                               "删除收货地址、标签和订阅授权），所有登录令牌失效；评价改为匿名并删除图片，"
                               "行为数据解除与本人的关联；订单依法保留（收货人打码为“张** 139****1111 省市”，"
                               "保留期满后完全匿名化），积分/成长值流水保留。有未完成的订单、售后、退款或待发货的"
                               "积分兑换时返回 409 member_deletion_blocked，detail.unfinished 列出未完成事项，"
                               "什么都不改。重复调用无副作用（令牌已失效时返回 401）。"
                               "同一微信号之后登录会注册为新会员。")
    def delete(self, request: Request) -> Response:
        services.member_delete_account(member_id=current_member(request).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneView(APIView):
    throttle_classes = [per_member("phone_bind")]

    class PhoneInput(InputSerializer):
        code = serializers.CharField(max_length=128, help_text="getPhoneNumber 返回的 code")

    @errors(InvalidCode, UpstreamError)
    @extend_schema(operation_id="me_bind_phone",
                   description="用手机号授权的 code 绑定手机号。", request=PhoneInput, responses={200: MemberOutput})
    def post(self, request: Request) -> Response:
        data = self.PhoneInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.member_phone_bind(member=current_member(request), code=data.validated_data["code"])
        return Response(MemberOutput(member).data)


class AddressSerializer(StrictJsonTypes, serializers.ModelSerializer):
    # Starts and ends with a digit, + or -: the field trims spaces, so a pattern allowing them at the
    # ends would promise what validation then refuses.
    phone = serializers.RegexField(r"^[0-9+\-][0-9+\- ]{3,18}[0-9+\-]$", max_length=20)

    class Meta:
        model = Address
        fields = ["id", "receiver_name", "phone", "province", "city", "district", "detail", "is_default"]
        read_only_fields = ["id"]


class AddressListView(APIView):
    @extend_schema(operation_id="addresses_list",
                   description="我的收货地址，默认地址在前。", responses={200: AddressSerializer(many=True)})
    def get(self, request: Request) -> Response:
        addresses = selectors.address_list_for_member(member=current_member(request))
        return Response(AddressSerializer(addresses, many=True).data)

    @extend_schema(operation_id="addresses_create",
                   description="新增收货地址；设为默认时取消其他默认。", request=AddressSerializer,
                   responses={201: AddressSerializer})
    def post(self, request: Request) -> Response:
        data = AddressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = services.address_create(member=current_member(request), data=data.validated_data)
        return Response(AddressSerializer(address).data, status=status.HTTP_201_CREATED)


class AddressDetailView(APIView):
    @errors(ADDRESS_NOT_FOUND)
    @extend_schema(operation_id="addresses_retrieve",
                   description="我的一个收货地址；他人的返回 404。", responses={200: AddressSerializer})
    def get(self, request: Request, address_id: int) -> Response:
        address = selectors.address_get_for_member(member=current_member(request), address_id=address_id)
        return Response(AddressSerializer(address).data)

    @errors(ADDRESS_NOT_FOUND)
    @extend_schema(operation_id="addresses_update",
                   description="修改收货地址（只改传入的字段）。", request=AddressSerializer,
                   responses={200: AddressSerializer})
    def patch(self, request: Request, address_id: int) -> Response:
        member = current_member(request)
        selectors.address_get_for_member(member=member, address_id=address_id)  # 404 before validation
        data = AddressSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        address = services.address_update(member=member, address_id=address_id, data=data.validated_data)
        return Response(AddressSerializer(address).data)

    @errors(ADDRESS_NOT_FOUND)
    @extend_schema(operation_id="addresses_delete",
                   description="删除收货地址。", responses={204: None})
    def delete(self, request: Request, address_id: int) -> Response:
        services.address_delete(member=current_member(request), address_id=address_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
