"""The logistics provider port: what shop needs from a parcel-tracking service.

A query names a parcel by carrier (our `Carrier` code, i.e. WeChat's delivery_id) and tracking
number — some carriers (SF) also want the last four digits of a phone on the waybill — and
returns dated checkpoints, newest first, with the parcel's overall state (a `LogisticsState`
value). Adapters translate carrier codes and states from the provider's vocabulary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from shop.models import LogisticsState


@dataclass(frozen=True)
class Checkpoint:
    time: dt.datetime  # aware
    text: str  # what the carrier wrote: "【杭州市】快件已由西湖区文三路驿站代收"
    location: str = ""
    state: str = ""  # a LogisticsState value when the provider says, else ""

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "text": self.text, "location": self.location, "state": self.state}


@dataclass(frozen=True)
class TrackingResult:
    state: str  # a LogisticsState value
    checkpoints: tuple[Checkpoint, ...] = field(default_factory=tuple)  # newest first

    @property
    def delivered_at(self) -> dt.datetime | None:
        """When the delivered checkpoint happened (the newest one), if the parcel is delivered."""
        if self.state != LogisticsState.DELIVERED or not self.checkpoints:
            return None
        return self.checkpoints[0].time


class TrackingUnavailable(Exception):
    """The provider could not answer now (network, rate limit, its own error): try again later."""


class LogisticsProvider(Protocol):
    def query(self, *, carrier_code: str, tracking_no: str, phone_tail: str = "") -> TrackingResult:
        """The parcel's checkpoints, newest first. No result yet is state "unknown", not an error.

        Raises TrackingUnavailable when asking again later may help.
        """
        ...
