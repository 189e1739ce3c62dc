"""Points arithmetic the shop's checkout uses: pure functions, no database.

    points_checkout_limit(balance=2345, goods_payable_fen=3999)  -> (1999, 1999)  # 100 points = ¥1, ≤ 50%
    points_value_fen(points=1500)                                 -> 1500
    points_for_purchase(paid_fen=12999, multiplier_percent=150)   -> 193           # 129 whole yuan × 1 × 1.5
    points_pro_rata(total=300, part_fen=3000, whole_fen=9000, done=0)   -> 100

Settings (config/settings/members.py): POINTS_PER_YUAN, POINTS_MAX_PERCENT_OF_GOODS,
POINTS_PURCHASE_PER_YUAN. Every function takes the setting as an optional argument so a caller
that froze the rules (an order placed yesterday) can pass them.
"""

from __future__ import annotations

import math

from django.conf import settings


def _per_yuan(points_per_yuan: int | None) -> int:
    rate = settings.POINTS_PER_YUAN if points_per_yuan is None else points_per_yuan
    if rate <= 0:
        raise ValueError("points_per_yuan must be positive")
    return int(rate)


def points_step(*, points_per_yuan: int | None = None) -> int:
    """The smallest number of points worth a whole number of fen (1 with 100 points = ¥1;
    2 with 200 points = ¥1; 1 with 50 points = ¥1, each point then worth 2 fen)."""
    rate = _per_yuan(points_per_yuan)
    return rate // math.gcd(rate, 100)


def points_value_fen(*, points: int, points_per_yuan: int | None = None) -> int:
    """What `points` are worth in fen, exactly. ValueError when they are not worth whole fen
    (not a multiple of points_step) or negative: the checkout only uses whole-fen amounts."""
    rate = _per_yuan(points_per_yuan)
    if points < 0:
        raise ValueError("points must not be negative")
    fen, rest = divmod(points * 100, rate)
    if rest:
        raise ValueError(f"{points} points are not worth a whole number of fen at {rate} points per yuan")
    return fen


def points_checkout_limit(*, balance: int, goods_payable_fen: int, points_per_yuan: int | None = None,
                          max_percent: int | None = None) -> tuple[int, int]:
    """(max_points, points_value_fen): the most points one order may use, and what they are worth.

    At most `max_percent` (POINTS_MAX_PERCENT_OF_GOODS, default 50) of the goods amount still to
    pay at the points stage (after member price, 满减 and coupon), rounded down to whole fen;
    only whole points, only points worth whole fen; never more than the balance. The value is
    exact: points_value_fen(points=max_points) == points_value_fen.
    """
    percent = settings.POINTS_MAX_PERCENT_OF_GOODS if max_percent is None else max_percent
    if not 0 <= percent <= 100:
        raise ValueError("max_percent must be within 0..100")
    rate = _per_yuan(points_per_yuan)
    if balance <= 0 or goods_payable_fen <= 0 or percent == 0:
        return 0, 0
    cap_fen = goods_payable_fen * percent // 100
    step = points_step(points_per_yuan=rate)
    cap_points = cap_fen * rate // 100
    max_points = min(balance, cap_points) // step * step
    return max_points, points_value_fen(points=max_points, points_per_yuan=rate)


def points_for_purchase(*, paid_fen: int, multiplier_percent: int = 100, per_yuan: int | None = None) -> int:
    """Points a paid order earns: whole yuan paid × POINTS_PURCHASE_PER_YUAN × the multiplier
    (a tier or paid-card bonus, 150 = ×1.5), rounded down."""
    rate = settings.POINTS_PURCHASE_PER_YUAN if per_yuan is None else per_yuan
    if paid_fen <= 0 or rate <= 0 or multiplier_percent <= 0:
        return 0
    return (paid_fen // 100) * rate * multiplier_percent // 100


def points_pro_rata(*, total: int, part_fen: int, whole_fen: int, done: int = 0) -> int:
    """How many of `total` points a refund of `part_fen` (refunded so far, in all) out of
    `whole_fen` accounts for, minus the `done` points already returned or reversed.

    Cumulative, so partial refunds add up exactly: after the last one (part_fen == whole_fen)
    the sum of all results is `total`, to the point. Never negative.
    """
    if whole_fen <= 0 or total <= 0:
        return 0
    part = min(max(part_fen, 0), whole_fen)
    return max(total * part // whole_fen - done, 0)
