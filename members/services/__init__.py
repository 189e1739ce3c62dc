"""Writes about members, one module per topic; the public use cases are importable from here."""

from .identity import (
    address_create,
    address_delete,
    address_update,
    member_login_wechat,
    member_logout,
    member_phone_bind,
)
from .purchases import member_record_purchase

__all__ = [
    "address_create", "address_delete", "address_update", "member_login_wechat", "member_logout",
    "member_phone_bind", "member_profile_update", "member_record_purchase",
]

# Profile, account deletion, tags, segments and category purchase facts (helper F).
from .profile import member_birthday_change_by_operator, member_delete_account, member_profile_update
from .segments import (
    member_record_category_purchase,
    segment_evaluate,
    segment_preview,
    segment_save,
    segments_evaluate_all,
    tag_add,
    tag_remove,
)

__all__ += [
    "member_birthday_change_by_operator", "member_delete_account", "member_record_category_purchase",
    "segment_evaluate", "segment_preview", "segment_save", "segments_evaluate_all", "tag_add", "tag_remove",
]

# Growth and tiers, sign-in, paid cards (helper D2). Member price: members.pricing.
from .cards import (  # noqa: E402
    card_purchase_create,
    card_purchase_mark_paid,
    card_purchase_prepay,
    card_purchases_cancel_expired,
    member_card_active,
)
from .growth import (  # noqa: E402
    growth_adjust,
    growth_award,
    growth_for_payment,
    growth_reverse,
    growth_reverse_for_refund,
    member_may_buy_early,
)
from .signin import signin_today  # noqa: E402

__all__ += [
    "card_purchase_create", "card_purchase_mark_paid", "card_purchase_prepay", "card_purchases_cancel_expired",
    "growth_adjust", "growth_award", "growth_for_payment", "growth_reverse", "growth_reverse_for_refund",
    "member_card_active",
    "member_may_buy_early", "signin_today",
]

# Points: ledger, lots, expiry, adjustments (helper D1). Checkout arithmetic: members.pricing_points.
from .points import (  # noqa: E402
    points_adjustment_approve,
    points_adjustment_create,
    points_adjustment_reject,
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

__all__ += [
    "points_adjustment_approve", "points_adjustment_create", "points_adjustment_reject", "points_award",
    "points_expire_due", "points_reconcile", "points_refund_spent", "points_remind_expiring",
    "points_return_for_refund", "points_reverse_award", "points_reverse_for_refund", "points_spend",
]
