"""Business defaults that are not yet operator-editable rows (DESIGN.md §7)."""

from .env import env_int

ORDER_UNPAID_TIMEOUT_MINUTES = env_int("ORDER_UNPAID_TIMEOUT_MINUTES", 30)
ORDER_AUTO_CONFIRM_DAYS = env_int("ORDER_AUTO_CONFIRM_DAYS", 10)
ORDER_MAX_LINE_QUANTITY = 999
CART_MAX_ITEMS = 100
