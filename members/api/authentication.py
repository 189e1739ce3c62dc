"""Bearer tokens we issue at WeChat login (not WeChat's session_key, which never leaves us)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from members import selectors
from members.models import Member


class AuthenticatedMember:
    """What `request.user` is for a shopper: the member, plus what DRF's permissions ask."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, member: Member, token_id: int) -> None:
        self.member = member
        self.token_id = token_id
        self.pk = member.pk


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AuthenticatedMember, Any] | None:
        try:
            header = authentication.get_authorization_header(request).split()
        except UnicodeError:
            raise exceptions.AuthenticationFailed() from None
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed()
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed() from None
        found = selectors.member_token_active(raw_token=raw)
        if found is None:
            raise exceptions.AuthenticationFailed()
        token, member = found
        return AuthenticatedMember(member, token.pk), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "members.api.authentication.BearerTokenAuthentication"
    name = "BearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer"}
