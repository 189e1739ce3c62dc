"""Campaign defaults (DESIGN.md §7), all overridable from the environment."""

from .env import env_int

# Members' own hooks into the layers above them: members knows nothing of campaigns, so what
# should happen when someone joins (the new-member coupon gift) is named here, in config.
MEMBER_JOINED_HOOKS = ["campaigns.services.gifts.gift_new_member"]

# A subscribe message this many days before a coupon expires (once per coupon).
COUPON_EXPIRY_REMIND_DAYS = env_int("COUPON_EXPIRY_REMIND_DAYS", 3)
# Flash sales: default daily slots (Shanghai hour, length in hours) and the unpaid timeout.
FLASH_SALE_SLOTS = [(10, 2), (14, 2), (20, 2)]
FLASH_SALE_UNPAID_TIMEOUT_MINUTES = env_int("FLASH_SALE_UNPAID_TIMEOUT_MINUTES", 15)
# Guard rail: an activity price below cost × this needs an operator with
# campaigns.approve_below_cost to confirm it. 1.0 = never below cost.
CAMPAIGN_PRICE_FLOOR = float(env_int("CAMPAIGN_PRICE_FLOOR_PERCENT", 100)) / 100
# 定向发放 walks its targets in chunks of this many members, one transaction per chunk.
TARGETED_ISSUE_CHUNK = env_int("TARGETED_ISSUE_CHUNK", 2000)
