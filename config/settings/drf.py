"""Django REST framework, the OpenAPI schema, and the API's rate limits."""

from core.api.converters import NUMBER_SCHEMA

from .env import env, env_int, mall_env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["members.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser with a bounded size and depth (413 / 400 json_too_deep, never a 500).
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Adds every operation's error responses with their codes (core.api.schema).
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # How many X-Forwarded-For hops to trust for the client address the rate limits count by:
    # production runs behind one nginx; without a proxy the header is the client's to forge.
    "NUM_PROXIES": env_int("NUM_PROXIES", 1 if mall_env() == "production" else 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "小程序商城 API",
    "DESCRIPTION": "Mini-program API of the mall. Errors: {code, message, detail}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # <number:...> document numbers (core.api.converters): the pattern the route accepts.
    "PATH_CONVERTER_OVERRIDES": {"number": NUMBER_SCHEMA},
    # Every choice set gets its own component. Without these, choice sets on fields of the same
    # name ("status", "kind") get hashed names, and an order's status was documented with the
    # after-sale statuses.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "shop.models.OrderStatus",
        "OrderRefundStateEnum": "shop.models.RefundState",
        "AfterSaleStatusEnum": "shop.models.AfterSaleStatus",
        "AfterSaleKindEnum": "shop.models.AfterSaleKind",
        "AfterSaleReasonEnum": "shop.models.aftersales.AfterSaleReason",
        "ReviewStatusEnum": "shop.models.ReviewStatus",
        "LogisticsStateEnum": "shop.models.LogisticsState",
        "CouponKindEnum": "campaigns.models.CouponKind",
        "CouponSourceEnum": "campaigns.models.CouponSource",
        "CouponScopeEnum": "campaigns.models.Scope",
        "PointsMallItemKindEnum": "campaigns.models.PointsMallItemKind",
        "PointsExchangeStatusEnum": "campaigns.models.PointsExchangeStatus",
        "PointsKindEnum": "members.models.PointsKind",
        "GenderEnum": "members.models.Gender",
        "GreetingKindEnum": "campaigns.models.greetings.GreetingKind",
        "GroupBuyStatusEnum": "campaigns.models.GroupBuyStatus",
        "GroupBuySeatStatusEnum": "campaigns.models.SeatStatus",
        "GroupBuySeatRoleEnum": "campaigns.models.SeatRole",
        "ProductTagEnum": "catalog.models.ProductTag",
        "PageBlockKindEnum": "shop.models.BlockKind",
        "PageLinkKindEnum": "shop.models.LinkKind",
        "PageProductRuleEnum": "shop.models.ProductRule",
        "SearchSuggestionKindEnum": "catalog.search.query.SuggestionKind",
        "SearchSortEnum": "catalog.search.query.SearchSort",
        # campaigns.selectors.coupons.CENTRE_STATE_LABELS, which the coupon centre and the home page show
        "CouponCentreStateEnum": [("claimable", "立即领取"), ("claimed", "已领取"), ("sold_out", "已抢光"),
                                  ("budget_exhausted", "已发完"), ("not_eligible", "不可领取")],
        "FlashSessionStateEnum": ["upcoming", "running", "ended"],
    },
}

# Bearer tokens issued at login.
MEMBER_TOKEN_TTL_DAYS = 30

# Rate limits (core.ratelimit, applied by core.api.throttles): scope → "<count>/<period>", the
# period s, m, h or d with an optional multiplier ("30/5m"). Each is read from RATE_LIMIT_<SCOPE>.
# Redeem codes are limited per member and per address: with 32^12 generated codes an address gets
# 24 × 365 × 30 ≈ 263,000 guesses a year (README, "Rate limits").
RATE_LIMIT_DEFAULTS = {
    "login": "20/m",  # per client address: each attempt is a call to WeChat
    "phone_bind": "10/h",  # per member: each attempt is a call to WeChat
    "coupon_claim": "30/m",  # per member: coupon centre claims and channel-code scans
    "code_redeem": "10/h",  # per member
    "code_redeem_address": "30/h",  # per client address
    "signin": "10/m",  # per member (one sign-in a day succeeds anyway)
    "review": "30/h",  # per member: reviews and follow-ups
    "after_sale": "10/h",  # per member: after-sale requests
    "photo_upload": "60/h",  # per member: review and after-sale photos
    "data_export": "5/h",  # per member: GET me/export reads every row the mall holds about them
    "distribution_apply": "10/h",  # per member: 分销员 applications
    "distribution_bind": "30/m",  # per member: arrivals through a share
    "withdrawal": "10/h",  # per member: 提现 requests
    "group_buy": "30/m",  # per member: opening and joining groups (拼团)
    "bargain_launch": "30/m",  # per member: 发起砍价
    "bargain_help": "60/m",  # per member: 帮砍 (the daily help cap is the real limit)
    "share": "120/m",  # per member: shares recorded and share visits reported
    # POST /api/v1/events batches (≤ 100 events each; an SDK sends one every few seconds). Per
    # address generously: a carrier's NAT puts many phones behind one.
    "events_device": "120/m",  # per anonymous device id
    "events_address": "3000/m",  # per client address
}
RATE_LIMITS = {scope: env(f"RATE_LIMIT_{scope.upper()}", rate) for scope, rate in RATE_LIMIT_DEFAULTS.items()}
