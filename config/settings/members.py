"""Members and loyalty defaults (DESIGN.md §7), all overridable from the environment.

One block per topic; helpers append their own.
"""

from .env import env_int

# The catalog console offers a product's early-access level (新品优先购) as a choice of member tier;
# the catalog knows nothing of members, so the reader of (level, name) pairs is named here.
CATALOG_TIER_CHOICES = "members.selectors.tier_choices"

# Points (积分).
# 100 points = ¥1 at checkout; at most this percent of the goods amount may be paid with points.
POINTS_PER_YUAN = env_int("POINTS_PER_YUAN", 100)
POINTS_MAX_PERCENT_OF_GOODS = env_int("POINTS_MAX_PERCENT_OF_GOODS", 50)
# Points earned per whole yuan paid (before a tier or paid-card multiplier).
POINTS_PURCHASE_PER_YUAN = env_int("POINTS_PURCHASE_PER_YUAN", 1)
# Each earning lot expires this many months after it was earned; a reminder goes out this many
# days before.
POINTS_EXPIRE_MONTHS = env_int("POINTS_EXPIRE_MONTHS", 12)
POINTS_REMIND_DAYS = env_int("POINTS_REMIND_DAYS", 30)
# An operator adjustment of more than this many points (either way) needs a second operator.
POINTS_ADJUST_APPROVAL_ABOVE = env_int("POINTS_ADJUST_APPROVAL_ABOVE", 5000)
# The expiry, reminder and reconcile jobs work through members in chunks of this many.
POINTS_JOB_BATCH = env_int("POINTS_JOB_BATCH", 500)

# Reviews (评价). Points a member earns for a review once it is published (the growth
# comes from the members' growth rule, GrowthRule.per_review); taken back if an operator hides it.
POINTS_PER_REVIEW = env_int("POINTS_PER_REVIEW", 10)
