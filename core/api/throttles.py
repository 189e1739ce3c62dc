"""DRF throttles on core.ratelimit: a view lists the limits its writes count against.

    throttle_classes = [per_member("code_redeem"), per_address("code_redeem_address")]

Only writes count (POST, PUT, PATCH, DELETE): a view's reads stay free, unless the limit says
`reads=True` (a read that is costly or sensitive, like a member's data export). A refused request raises
DRF's Throttled, which the API's exception handler answers with 429, `Retry-After` and
`{"code": "rate_limited", ...}`. The client address is DRF's `get_ident()`, which trusts as many
`X-Forwarded-For` hops as `REST_FRAMEWORK["NUM_PROXIES"]` says (README: `NUM_PROXIES`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.ratelimit import Decision, rate_for, ratelimit_hit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RateLimitThrottle(BaseThrottle):
    """Counts a write (and a read when `counts_reads`) against `scope` for the subject `subject()`
    names; None counts nothing."""

    scope: ClassVar[str]
    counts_reads: ClassVar[bool] = False
    decision: Decision | None = None

    def subject(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in SAFE_METHODS and not (self.counts_reads and request.method == "GET"):
            return True
        subject = self.subject(request)
        if subject is None:
            return True
        self.decision = ratelimit_hit(scope=self.scope, subject=subject)
        return self.decision.allowed

    def wait(self) -> float | None:
        return self.decision.retry_after if self.decision is not None else None


class MemberRateThrottle(RateLimitThrottle):
    """Per signed-in member (anonymous requests are refused before throttles run, or not counted)."""

    def subject(self, request: Request) -> str | None:
        member = getattr(request.user, "member", None)
        return None if member is None else f"m{member.pk}"


class AddressRateThrottle(RateLimitThrottle):
    """Per client address."""

    def subject(self, request: Request) -> str | None:
        return f"a{self.get_ident(request)}"


def per_member(scope: str, *, reads: bool = False) -> type[RateLimitThrottle]:
    """A throttle counting against `scope` per member (GETs too with `reads`). The scope must be in
    RATE_LIMITS."""
    rate_for(scope)  # an unknown scope fails when the view module is imported, not at request time
    return type(f"MemberRateThrottle[{scope}]", (MemberRateThrottle,), {"scope": scope, "counts_reads": reads})


def per_address(scope: str) -> type[RateLimitThrottle]:
    """A throttle counting against `scope` per client address. The scope must be in RATE_LIMITS."""
    rate_for(scope)
    return type(f"AddressRateThrottle[{scope}]", (AddressRateThrottle,), {"scope": scope})
