"""Operators are Django users; audit rows store who acted by id."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser


def operator_id(user: AbstractBaseUser | None) -> int | None:
    """The id to record for `user`, or None when the system or a shopper acted."""
    return user.pk if user is not None else None
