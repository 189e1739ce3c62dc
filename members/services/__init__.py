"""Writes about members, one module per topic; the public use cases are importable from here."""

from .identity import (
    address_create,
    address_delete,
    address_update,
    member_login_wechat,
    member_logout,
    member_phone_bind,
    member_profile_update,
)
from .purchases import member_record_purchase

__all__ = [
    "address_create", "address_delete", "address_update", "member_login_wechat", "member_logout",
    "member_phone_bind", "member_profile_update", "member_record_purchase",
]
