"""The optional Redis gate in front of a flash-sale rush: only as many buyers as there are units
reach PostgreSQL.

With `REDIS_URL` set, order placement asks the gate before its transaction. One Lua script per
flash item, atomic in Redis, checks the member's allowance and the units left and, when both
allow, takes them (a ticket); refused buyers get FlashLimitExceeded / FlashSoldOut without a
write, at Redis's speed. PostgreSQL stays the truth: flash_reserve's conditional UPDATEs still
decide every sale, so the gate can only turn buyers away, never sell a unit PostgreSQL has not.

- The gate is seeded from PostgreSQL: a missing key is set from what the offer read just showed
  (FlashItem.stock_left, the member's FlashPurchase.quantity) and expires after
  FLASH_GATE_TTL_SECONDS, to be seeded again. A seed taken while admitted buyers are still in
  their transactions admits a few too many for a moment; PostgreSQL refuses them.
- A ticket whose placement fails (any refusal, a replay, an error) is given back. A cancelled
  order's units go back to PostgreSQL (flash_release), which forgets the item's gate after the
  commit, so the next buyer seeds it afresh: the gate never keeps selling-out a unit that is free.
- Redis unreachable: the gate admits everyone (logged) and PostgreSQL decides, as without it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import redis
from django.conf import settings

from campaigns.errors import FlashLimitExceeded, FlashSoldOut
from campaigns.selectors.flash import FlashOffer

logger = logging.getLogger(__name__)
T = TypeVar("T")
_POOL_SIZE = 50
_POOL_WAIT_SECONDS = 5

# Returns 1 admitted, 0 sold out, -1 over the member's limit.
# KEYS: units left, the members' holdings (a hash); ARGV: member, units, limit, seed left, seed held, ttl.
_ADMIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[6]) end
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held then
  held = ARGV[5]
  redis.call('HSET', KEYS[2], ARGV[1], held)
  if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
end
local units = tonumber(ARGV[2])
if tonumber(held) + units > tonumber(ARGV[3]) then return -1 end
if tonumber(redis.call('GET', KEYS[1])) < units then return 0 end
redis.call('DECRBY', KEYS[1], units)
redis.call('HINCRBY', KEYS[2], ARGV[1], units)
return 1
"""

# Gives a ticket back, to the keys that still hold the seed it was taken from.
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[2]) end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2])) end
return 1
"""


def _keys(item_id: int) -> list[str]:
    return [f"flash:gate:{item_id}:left", f"flash:gate:{item_id}:held"]


@dataclass
class FlashTicket:
    """Units the gate let through for one placement; give_back() returns them if it fails."""

    member_id: int
    units: dict[int, int] = field(default_factory=dict)  # item_id -> units taken from the gate

    def give_back(self) -> None:
        """Return the units to the gate (once; later calls do nothing): the placement failed."""
        units, self.units = self.units, {}
        if units:
            _run_quietly(lambda client: [client.eval(_GIVE_BACK, 2, *_keys(item_id), self.member_id, n)
                                         for item_id, n in sorted(units.items())])

    def forget(self) -> None:
        """PostgreSQL refused what the gate admitted (sold out, over the limit): its seed was
        stale, so drop the items' counts rather than give the units back."""
        units, self.units = self.units, {}
        flash_gate_forget(item_ids=sorted(units))


def flash_gate_admit(*, member_id: int, wants: Sequence[tuple[int, int]],
                     offers: Mapping[int, FlashOffer]) -> FlashTicket:
    """Take `wants` ((item_id, units) pairs) from the gate for `member_id`, or refuse.

    Raises FlashLimitExceeded or FlashSoldOut, giving back what it took for the order's other
    items, when the gate says so. Without REDIS_URL, or for an offer read without its units left
    and holdings, admits without asking; with Redis unreachable, admits (logged).
    """
    ticket = FlashTicket(member_id=member_id)
    if not settings.REDIS_URL:
        return ticket
    merged: dict[int, int] = {}
    for item_id, units in wants:
        merged[item_id] = merged.get(item_id, 0) + units
    for item_id in sorted(merged):
        offer = offers.get(item_id)
        if offer is None or offer.stock_left is None or offer.member_bought is None:
            continue
        units = merged[item_id]
        args = [member_id, units, offer.per_member_limit, offer.stock_left, offer.member_bought,
                settings.FLASH_GATE_TTL_SECONDS]
        answer = _run_quietly(functools.partial(_admit, keys=_keys(item_id), args=args))
        if answer is None or answer == 1:
            if answer is not None:
                ticket.units[item_id] = units
            continue
        ticket.give_back()
        if answer < 0:
            raise FlashLimitExceeded(detail={"flash_item_id": item_id, "per_member_limit": offer.per_member_limit})
        raise FlashSoldOut(detail={"flash_item_id": item_id})
    return ticket


def _admit(client: redis.Redis, *, keys: list[str], args: list[int]) -> int:
    return int(client.eval(_ADMIT, 2, *keys, *args))  # type: ignore[arg-type]


def flash_gate_forget(*, item_ids: Sequence[int]) -> None:
    """Drop the gate's counts for these items, so the next buyer seeds them from PostgreSQL (after
    units went back there: a cancelled order, an operator's change of stock)."""
    if settings.REDIS_URL and item_ids:
        _run_quietly(lambda client: client.delete(*(k for item_id in item_ids for k in _keys(item_id))))


@functools.cache
def _client(url: str) -> redis.Redis:
    # A blocking pool: in a rush more threads than the pool holds wait briefly for a connection
    # instead of failing (redis-py's plain pool raises "Too many connections" past 100, which
    # would open the gate exactly when it is needed).
    pool = redis.BlockingConnectionPool.from_url(url, max_connections=_POOL_SIZE, timeout=_POOL_WAIT_SECONDS,
                                                 socket_timeout=1, socket_connect_timeout=1)
    return redis.Redis(connection_pool=pool)


def _run_quietly(call: Callable[[redis.Redis], T]) -> T | None:
    try:
        return call(_client(settings.REDIS_URL))
    except redis.RedisError:
        logger.warning("flash-sale gate skipped: Redis is unreachable", exc_info=True)
        return None
