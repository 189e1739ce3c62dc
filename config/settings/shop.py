"""Business defaults that are not yet operator-editable rows (DESIGN.md §7)."""

from .campaigns import MEMBER_DELETED_HOOKS
from .env import base_url, env, env_int

ORDER_UNPAID_TIMEOUT_MINUTES = env_int("ORDER_UNPAID_TIMEOUT_MINUTES", 30)
ORDER_AUTO_CONFIRM_DAYS = env_int("ORDER_AUTO_CONFIRM_DAYS", 10)
ORDER_MAX_LINE_QUANTITY = 999
CART_MAX_ITEMS = 100
# 浏览足迹: the most recent products kept per member; older footprints are dropped as new ones come.
FOOTPRINTS_KEPT = env_int("FOOTPRINTS_KEPT", 100)

# After-sales and reviews (issue: fulfilment, after-sales, reviews and messages)
AFTER_SALE_WINDOW_DAYS = env_int("AFTER_SALE_WINDOW_DAYS", 7)
# Refunds above this need a second operator's approval (maker-checker).
REFUND_SECOND_APPROVAL_ABOVE_FEN = env_int("REFUND_SECOND_APPROVAL_ABOVE_FEN", 50000)
REVIEW_AUTO_POSITIVE_DAYS = env_int("REVIEW_AUTO_POSITIVE_DAYS", 7)

# Shipping and logistics (issue: fulfilment — shipping). Tracking is asked of a provider by a
# beat job and cached on each package; shoppers read the cache, never the provider.
LOGISTICS_PROVIDER = env("LOGISTICS_PROVIDER", "sandbox")  # "sandbox" (no network) | "kuaidi100"
LOGISTICS_API_BASE = base_url("LOGISTICS_API_BASE", "https://poll.kuaidi100.com/")
LOGISTICS_API_CUSTOMER = env("LOGISTICS_API_CUSTOMER")  # Kuaidi100 customer (授权码)
LOGISTICS_API_KEY = env("LOGISTICS_API_KEY")  # Kuaidi100 key (signs each query)
LOGISTICS_HTTP_TIMEOUT = env_int("LOGISTICS_HTTP_TIMEOUT", 10)
LOGISTICS_REFRESH_MINUTES = env_int("LOGISTICS_REFRESH_MINUTES", 120)  # min interval per package
LOGISTICS_REFRESH_BATCH = env_int("LOGISTICS_REFRESH_BATCH", 50)
LOGISTICS_TRACK_DAYS = env_int("LOGISTICS_TRACK_DAYS", 30)  # stop asking about a package after this
# WeChat shipping-info upload: transient failures retry after base × 2^(n−1) seconds (capped),
# at most this many attempts before it waits for an operator's 重新上传.
WECHAT_SHIPPING_UPLOAD_MAX_ATTEMPTS = env_int("WECHAT_SHIPPING_UPLOAD_MAX_ATTEMPTS", 10)
WECHAT_SHIPPING_UPLOAD_RETRY_BASE_SECONDS = env_int("WECHAT_SHIPPING_UPLOAD_RETRY_BASE_SECONDS", 60)
WECHAT_SHIPPING_UPLOAD_RETRY_MAX_SECONDS = env_int("WECHAT_SHIPPING_UPLOAD_RETRY_MAX_SECONDS", 3600)
SHIPPING_IMPORT_MAX_ROWS = env_int("SHIPPING_IMPORT_MAX_ROWS", 2000)

# The nightly counters reconcile (shop.services.reconcile): rows per chunk, and how long a counter
# that moves after commit (sales counts, coupon used counts) is left alone after its last payment
# or refund, since that change may still be on its way.
COUNTERS_RECONCILE_BATCH = env_int("COUNTERS_RECONCILE_BATCH", 500)
COUNTERS_RECONCILE_QUIET_MINUTES = env_int("COUNTERS_RECONCILE_QUIET_MINUTES", 10)

# Account deletion (注销) and what the law makes us keep. A member with unfinished orders, after-sales
# or refunds must wait (members asks these readers: it knows nothing of orders). After the deletion,
# the orders' receivers are masked and review photos, reviewer names and analytics identities go.
MEMBER_DELETION_BLOCKERS = ["shop.selectors.order_deletion_blockers",
                            "campaigns.selectors.privacy.points_exchange_deletion_blockers",
                            "campaigns.selectors.privacy.distribution_deletion_blockers"]
MEMBER_DELETED_HOOKS = [*MEMBER_DELETED_HOOKS, "campaigns.services.points_mall.points_exchanges_forget_member",
                        "shop.services.privacy.orders_forget_member",
                        "shop.services.privacy.reviews_forget_member", "shop.services.browsing.browsing_forget_member",
                        "analytics.services.events.events_forget_member"]
# A deleted member's orders keep the masked receiver this long after their last step, then are
# anonymised by the nightly job: the E-Commerce Law (电子商务法 art. 31) requires transaction
# records to be kept at least three years after completion (1096 days: three years with a leap day).
ORDER_PII_RETENTION_DAYS = env_int("ORDER_PII_RETENTION_DAYS", 1096)

# 拼团: campaigns marks the seats of a failed group for refund and knows nothing of orders; these
# refund the orders (called after commit with the order ids; the expiry job sweeps what a failed
# hook left).
GROUP_BUY_FAILED_HOOKS = ["shop.services.groupbuy.group_buy_orders_refund"]

# Decorated pages (GET /api/v1/pages/{key}): a resolved page is served from the cache for at most
# this long (prices and stock on its cards may lag by that much); an operator's save shows at once.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 30)
