"""Masking personal information that must be kept (orders during their legal retention).

What a masked record still shows is what customer service needs to recognise it with the member
on the phone ("张** 139****1111, 广东省深圳市"), and not enough to find the person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse


def mask_name(name: str) -> str:
    """"张三丰" → "张**": the first character and two stars, whatever the length; "" stays ""."""
    name = (name or "").strip()
    return f"{name[0]}**" if name else ""


def mask_phone(phone: str) -> str:
    """"13912341111" → "139****1111": the first three and last four digits of a mobile number.

    A number too short to keep seven digits of (a landline extension, junk) becomes "****".
    Masking a masked number returns it unchanged.
    """
    phone = (phone or "").strip()
    if not phone:
        return ""
    if len(phone) < 8:
        return "****"
    return f"{phone[:3]}****{phone[-4:]}"


# ---------------------------------------------------------------------------------------------
# Phone numbers in the operators' console

# An operator with this permission reads whole phone numbers in the console; anyone else reads
# 138****8000 on every page, search result and exported file (the 仓库 role has it: the number goes
# on the parcel). It belongs to members.Member; it is named here because the console's pages of
# every app show phone numbers.
FULL_PHONE_PERMISSION = "members.view_member_phone"

# The operator of the current request (set by `phone_policy_middleware`, asked only when a number is
# shown); outside a request (jobs, shell) numbers stay masked, so a new code path never leaks them.
_reader: ContextVar[Any] = ContextVar("console_phone_reader", default=None)


def console_phone(phone: str) -> str:
    """`phone` as the current operator may read it: whole, or masked (mask_phone)."""
    reader = _reader.get()
    return phone if reader is not None and reader.has_perm(FULL_PHONE_PERMISSION) else mask_phone(phone)


@contextmanager
def phones_as_seen_by(user: Any) -> Iterator[None]:
    """Within the block, console_phone() shows what `user` may read."""
    token = _reader.set(user)
    try:
        yield
    finally:
        _reader.reset(token)


def phone_policy_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[
        [HttpRequest], HttpResponse]:
    """Every request's console_phone() answers for its signed-in operator (after AuthenticationMiddleware;
    the user is looked at only when a page shows a number)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        with phones_as_seen_by(request.user):
            return get_response(request)

    return middleware
