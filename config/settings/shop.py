"""Business defaults that are not yet operator-editable rows (DESIGN.md §7)."""

from .env import env_int

ORDER_UNPAID_TIMEOUT_MINUTES = env_int("ORDER_UNPAID_TIMEOUT_MINUTES", 30)
ORDER_AUTO_CONFIRM_DAYS = env_int("ORDER_AUTO_CONFIRM_DAYS", 10)
ORDER_MAX_LINE_QUANTITY = 999
CART_MAX_ITEMS = 100

# After-sales and reviews (issue: fulfilment, after-sales, reviews and messages)
AFTER_SALE_WINDOW_DAYS = env_int("AFTER_SALE_WINDOW_DAYS", 7)
# Refunds above this need a second operator's approval (maker-checker).
REFUND_SECOND_APPROVAL_ABOVE_FEN = env_int("REFUND_SECOND_APPROVAL_ABOVE_FEN", 50000)
REVIEW_AUTO_POSITIVE_DAYS = env_int("REVIEW_AUTO_POSITIVE_DAYS", 7)
