"""Birthday and anniversary greetings: the member's posters.

    GET /api/v1/me/greetings/                          the member's greetings, newest first (paginated)
    GET /api/v1/me/greetings/{id}/poster.png           the poster PNG, to its owner only (404 otherwise)

The list's `poster_url` is a signed link that expires (core.media), so an <image> tag can show
it without the login token and a guessed or stale link gets nothing. The 09:00 job does not draw
posters: the member's first view (the list, or the poster itself) draws and stores it once
(campaigns.services.greetings.greeting_poster_ensure); later views read the stored file.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from campaigns.models import Greeting
from campaigns.selectors import greetings as selectors
from campaigns.selectors.greetings import GreetingNotFound
from campaigns.services.greetings import greeting_poster_ensure
from core.api.pagination import PageNumberPagination
from core.api.schema import errors
from members.api.views import current_member


class GreetingCouponOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="template.name")
    status = serializers.CharField()
    valid_until = serializers.DateTimeField()


class GreetingOutput(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", help_text="生日 / 注册纪念日")
    coupon = GreetingCouponOutput(allow_null=True, help_text="随祝福赠送的优惠券；没有则为 null")
    poster_url = serializers.SerializerMethodField(
        help_text="海报 PNG 的签名地址（无需登录令牌，一段时间后过期，过期请重新获取列表）；"
                  "首次查看时生成，生成失败为 null（再次获取列表时重试）")

    class Meta:
        model = Greeting
        fields = ["id", "kind", "kind_display", "year", "day", "years", "coupon", "poster_url", "created_at"]

    def get_poster_url(self, greeting: Greeting) -> str | None:
        if not greeting.poster:
            return None
        request = self.context.get("request")
        url = greeting.poster.url
        return request.build_absolute_uri(url) if request is not None else url


class MyGreetingListView(generics.ListAPIView):
    serializer_class = GreetingOutput
    pagination_class = PageNumberPagination
    queryset = Greeting.objects.none()  # for the schema; get_queryset() scopes by member

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Greeting.objects.none()
        return selectors.greeting_list_for_member(member=current_member(self.request))

    def paginate_queryset(self, queryset: Any) -> Any:
        # The first view of a greeting draws its poster (a member has one or two a year).
        page = super().paginate_queryset(queryset)
        return None if page is None else [greeting_poster_ensure(greeting=greeting) for greeting in page]

    @extend_schema(operation_id="greetings_mine", description="我的生日/注册纪念日祝福与海报，最新的在前。")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)


class MyGreetingPosterView(APIView):
    @errors(GreetingNotFound)
    @extend_schema(operation_id="greetings_poster", responses={(200, "image/png"): OpenApiTypes.BINARY},
                   description="祝福海报 PNG，仅本人可取，首次查看时生成；"
                               "他人的或生成失败的返回 404 greeting_not_found。")
    def get(self, request: Request, greeting_id: int) -> FileResponse:
        greeting = selectors.greeting_for_member(member=current_member(request), greeting_id=greeting_id)
        greeting = greeting_poster_ensure(greeting=greeting)
        if not greeting.poster:
            raise GreetingNotFound()
        response = FileResponse(greeting.poster.open("rb"), content_type="image/png",
                                filename=f"greeting-{greeting.year}-{greeting.kind}.png")
        response["Cache-Control"] = "private, max-age=86400"
        return response


urlpatterns: list[URLPattern] = [
    path("me/greetings/", MyGreetingListView.as_view(), name="greeting-list"),
    path("me/greetings/<int:greeting_id>/poster.png", MyGreetingPosterView.as_view(), name="greeting-poster"),
]
