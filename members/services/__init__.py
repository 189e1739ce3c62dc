"""Writes about members, one module per topic; the public use cases are importable from here.

Checkout arithmetic (member price, points limit) is pure and lives in members.pricing and
members.pricing_points.
"""

from .cards import (
    card_purchase_create,
    card_purchase_mark_paid,
    card_purchase_prepay,
    card_purchases_cancel_expired,
    member_card_active,
)
from .growth import (
    growth_adjust,
    growth_award,
    growth_for_payment,
    growth_reverse,
    growth_reverse_for_refund,
    member_may_buy_early,
)
from .identity import (
    address_create,
    address_delete,
    address_update,
    member_login_wechat,
    member_logout,
    member_phone_bind,
)
from .points import (
    points_award,
    points_expire_due,
    points_reconcile,
    points_refund_spent,
    points_remind_expiring,
    points_return_for_refund,
    points_reverse_award,
    points_reverse_for_refund,
    points_spend,
)
from .points_adjustments import points_adjustment_approve, points_adjustment_create, points_adjustment_reject
from .profile import (
    member_birthday_change_by_operator,
    member_block,
    member_delete_account,
    member_deletion_blockers,
    member_profile_update,
    member_unblock,
)
from .purchases import member_record_purchase
from .searches import recent_search_record, recent_searches_clear
from .segments import (
    member_record_category_purchase,
    segment_evaluate,
    segment_preview,
    segment_save,
    segments_evaluate_all,
    tag_add,
    tag_remove,
)
from .signin import signin_today

__all__ = [
    "recent_search_record", "recent_searches_clear",
    "address_create", "address_delete", "address_update", "card_purchase_create", "card_purchase_mark_paid",
    "card_purchase_prepay", "card_purchases_cancel_expired", "growth_adjust", "growth_award", "growth_for_payment",
    "growth_reverse", "growth_reverse_for_refund", "member_birthday_change_by_operator", "member_card_active",
    "member_block", "member_unblock",
    "member_delete_account",
    "member_deletion_blockers", "member_login_wechat", "member_logout", "member_may_buy_early", "member_phone_bind",
    "member_profile_update", "member_record_category_purchase", "member_record_purchase",
    "points_adjustment_approve", "points_adjustment_create", "points_adjustment_reject", "points_award",
    "points_expire_due", "points_reconcile", "points_refund_spent", "points_remind_expiring",
    "points_return_for_refund", "points_reverse_award", "points_reverse_for_refund", "points_spend",
    "segment_evaluate", "segment_preview", "segment_save", "segments_evaluate_all", "signin_today", "tag_add",
    "tag_remove",
]
