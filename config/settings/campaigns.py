"""Campaign defaults (DESIGN.md §7), all overridable from the environment."""

from .env import env, env_int

# Members' own hooks into the layers above them: members knows nothing of campaigns, so what
# should happen when someone joins (the new-member coupon gift) is named here, in config.
MEMBER_JOINED_HOOKS = ["campaigns.services.gifts.gift_new_member"]

# A subscribe message this many days before a coupon expires (once per coupon).
COUPON_EXPIRY_REMIND_DAYS = env_int("COUPON_EXPIRY_REMIND_DAYS", 3)
# Flash sales: default daily slots (Shanghai hour, length in hours) and the unpaid timeout.
FLASH_SALE_SLOTS = [(10, 2), (14, 2), (20, 2)]
FLASH_SALE_UNPAID_TIMEOUT_MINUTES = env_int("FLASH_SALE_UNPAID_TIMEOUT_MINUTES", 15)
# With REDIS_URL, the flash-sale gate (campaigns.services.flash_gate) re-reads its counts from
# PostgreSQL this often: how long a seed taken mid-rush may admit a few buyers too many.
FLASH_GATE_TTL_SECONDS = env_int("FLASH_GATE_TTL_SECONDS", 30)
# 拼团: a new activity's unpaid timeout (activity orders: 15 minutes, DESIGN §7); the expiry job
# takes this many due groups per run (each group is its own transaction).
GROUP_BUY_UNPAID_TIMEOUT_MINUTES = env_int("GROUP_BUY_UNPAID_TIMEOUT_MINUTES", 15)
GROUP_BUY_EXPIRE_BATCH = env_int("GROUP_BUY_EXPIRE_BATCH", 200)
# How many groups one member may join per Shanghai day, and how many joins one device may place
# (taken when the join order is placed; a cancelled order does not give its join back).
GROUP_BUY_DAILY_JOIN_LIMIT = env_int("GROUP_BUY_DAILY_JOIN_LIMIT", 10)
GROUP_BUY_DEVICE_DAILY_JOIN_LIMIT = env_int("GROUP_BUY_DEVICE_DAILY_JOIN_LIMIT", 10)
# Guard rail: an activity price below cost × this needs an operator with
# campaigns.approve_below_cost to confirm it. 1.0 = never below cost.
CAMPAIGN_PRICE_FLOOR = float(env_int("CAMPAIGN_PRICE_FLOOR_PERCENT", 100)) / 100
# 定向发放 walks its targets in chunks of this many members, one transaction per chunk.
TARGETED_ISSUE_CHUNK = env_int("TARGETED_ISSUE_CHUNK", 2000)

# Birthday and anniversary greetings (campaigns.services.greetings). The coupon each kind gives
# is a GiftRule (trigger 生日 / 注册纪念日) in the console; these are the rest.
# The poster's mini-program code opens the coupon (scene "coupon=<id>"), or the home page when the
# greeting came without one (scene "greeting=<id>").
GREETING_COUPON_PAGE = env("GREETING_COUPON_PAGE", "pages/coupon/detail")
GREETING_HOME_PAGE = env("GREETING_HOME_PAGE", "pages/index/index")
GREETING_POSTER_BRAND = env("GREETING_POSTER_BRAND", "小程序商城 · 会员中心")
# A font file with the Chinese glyphs posters need; empty: the Noto Sans SC installed with the
# requirements (pylopdf-fonts-zh-cn).
GREETING_POSTER_FONT = env("GREETING_POSTER_FONT", "")
# Which subscribe-message template (WECHAT_SUBSCRIBE_TEMPLATES key) each kind sends; a kind not
# listed sends none (no anniversary template is configured by default).
GREETING_MESSAGE_TEMPLATES = {"birthday": "birthday"}
# What should happen when a member deletes their account (members knows nothing of campaigns):
# greeting posters show the nickname, so their files go. The shop's and analytics' hooks are added
# in config/settings/shop.py.
MEMBER_DELETED_HOOKS = ["campaigns.services.greetings.greetings_forget_member",
                        "campaigns.services.product_posters.product_posters_forget_member",
                        "campaigns.services.distribution.distributors_forget_member"]

# Distribution (分销). The rules themselves (mode, levels, rates, binding, withdrawals) are the
# operators' DistributionSettings row; these are the plumbing around them.
# The settlement job and the nightly balance check work through this many distributors per chunk.
DISTRIBUTION_SETTLE_BATCH = env_int("DISTRIBUTION_SETTLE_BATCH", 1000)
# The page a distributor's share code opens (scene "d=<distributor id>"), and the poster's brand line.
DISTRIBUTION_SHARE_PAGE = env("DISTRIBUTION_SHARE_PAGE", "pages/index/index")
# The product page a shared product opens; the path carries the distributor ("?id=<product>&d=<id>").
DISTRIBUTION_PRODUCT_PAGE = env("DISTRIBUTION_PRODUCT_PAGE", "pages/product/detail")
DISTRIBUTION_POSTER_BRAND = env("DISTRIBUTION_POSTER_BRAND", "小程序商城 · 分享好物")
# The remark WeChat shows the member with a payout (商家转账: at most 32 characters).
DISTRIBUTION_TRANSFER_REMARK = env("DISTRIBUTION_TRANSFER_REMARK", "分销佣金提现")

# 砍价 (bargain). The activity's own numbers (prices, helpers, hours, helps per helper, stock) are
# the operators'; these are the caps around every activity.
# How many launches one member may help per Shanghai day, and how many helps one device may give.
BARGAIN_DAILY_HELP_LIMIT = env_int("BARGAIN_DAILY_HELP_LIMIT", 10)
BARGAIN_DEVICE_DAILY_HELP_LIMIT = env_int("BARGAIN_DEVICE_DAILY_HELP_LIMIT", 10)
# A launch at its floor may be bought for this long; its order waits this long for payment.
BARGAIN_BUY_HOURS_AFTER_FLOOR = env_int("BARGAIN_BUY_HOURS_AFTER_FLOOR", 24)
BARGAIN_UNPAID_TIMEOUT_MINUTES = env_int("BARGAIN_UNPAID_TIMEOUT_MINUTES", 15)

# Share attribution: an order is attributed to the last share its buyer opened within this many
# days (last touch); a member counts as brought by a share when they open it within this many
# minutes of registering.
SHARE_ATTRIBUTION_DAYS = env_int("SHARE_ATTRIBUTION_DAYS", 7)
SHARE_NEW_MEMBER_MINUTES = env_int("SHARE_NEW_MEMBER_MINUTES", 30)
# The suspicious-patterns list: a device used by this many accounts, and this many helpers of one
# launch registered within the burst window before they helped.
ABUSE_ACCOUNTS_PER_DEVICE = env_int("ABUSE_ACCOUNTS_PER_DEVICE", 3)
ABUSE_NEW_HELPER_BURST = env_int("ABUSE_NEW_HELPER_BURST", 5)
ABUSE_NEW_HELPER_HOURS = env_int("ABUSE_NEW_HELPER_HOURS", 24)
