"""Money is integer fen (CNY). One rounding rule; allocation by largest remainder."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


def yuan(fen: int) -> str:
    """Render fen as a yuan string with two decimals: 1999 -> '19.99', -5 -> '-0.05'."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def fen_from_yuan(value: str | int | Decimal) -> int:
    """Parse a yuan amount ('19.9', 19, Decimal('19.99')) to fen; more than 2 decimals is an error."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"不是有效的金额：{value}") from exc
    if not amount.is_finite():
        raise ValueError(f"不是有效的金额：{value}")
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        raise ValueError(f"金额最多两位小数：{value}")
    return int(scaled)


def round_fen(value: Decimal | int) -> int:
    """The one rounding helper: half up to a whole fen."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def apply_rate(amount_fen: int, rate: Decimal) -> int:
    """amount × rate, rounded once (e.g. a 95% member price)."""
    return round_fen(Decimal(amount_fen) * rate)


def allocate(total_fen: int, weights: Sequence[int]) -> list[int]:
    """Split `total_fen` across `weights` proportionally so the parts sum exactly to the total.

    Largest-remainder method: each part gets the floor of its exact share, then the fen left
    over go one each to the largest remainders (earlier index wins ties). A zero weight gets 0
    unless every weight is zero, in which case the split is even.
    """
    if total_fen < 0:
        return [-part for part in allocate(-total_fen, weights)]
    n = len(weights)
    if n == 0:
        if total_fen:
            raise ValueError("cannot allocate a non-zero amount to no parts")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights = [1] * n
        weight_sum = n
    floors = [total_fen * w // weight_sum for w in weights]
    remainders = [total_fen * w % weight_sum for w in weights]
    left = total_fen - sum(floors)
    order = sorted(range(n), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors
