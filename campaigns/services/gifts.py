"""Automatic coupon gifts: 新人礼 on first login, 支付有礼 after a paid order."""

from __future__ import annotations


def gift_new_member(*, member_id: int) -> None:
    """Issue the active new-member gift rules to a member who just joined. Idempotent."""
