"""A provider with no network: deterministic fake checkpoints derived from the tracking number.

The same carrier and tracking number give the same route and the same number of steps (one to
five: collected → in transit → arrived → out for delivery → delivered), dated on the days before
today (Shanghai), so a demo shows parcels at every stage and a test can predict the answer by
asking this adapter itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.utils import timezone

from shop.logistics.port import Checkpoint, TrackingResult
from shop.models import Carrier

CITIES = ("杭州市", "上海市", "广州市", "深圳市", "北京市", "南京市", "武汉市", "成都市")
# (state, text) of each step in time order; {o} origin city, {d} destination city, {c} carrier.
STEPS = (
    ("collected", "【{o}】{c}快递员已揽收"),
    ("in_transit", "【{o}】快件已发往{d}转运中心"),
    ("in_transit", "【{d}】快件已到达{d}转运中心"),
    ("delivering", "【{d}】快递员正在派送，请保持电话畅通"),
    ("delivered", "【{d}】快件已签收，签收人：本人。如有疑问请联系快递员"),
)


class SandboxLogistics:
    def __init__(self, *, today: dt.date | None = None) -> None:
        self.today = today

    def query(self, *, carrier_code: str, tracking_no: str, phone_tail: str = "") -> TrackingResult:
        digest = int(hashlib.sha256(f"{carrier_code}:{tracking_no}".encode()).hexdigest(), 16)
        steps = 1 + digest % len(STEPS)
        origin, dest = CITIES[(digest >> 8) % len(CITIES)], CITIES[(digest >> 16) % len(CITIES)]
        carrier = Carrier(carrier_code).label if carrier_code in Carrier.values else carrier_code
        today = self.today or timezone.localdate()
        tz = timezone.get_current_timezone()
        start = dt.datetime.combine(today - dt.timedelta(days=steps), dt.time(9), tzinfo=tz)
        checkpoints = []
        for index, (state, text) in enumerate(STEPS[:steps]):
            when = start + dt.timedelta(days=index, hours=(digest >> (24 + 4 * index)) % 10,
                                        minutes=(digest >> (48 + 6 * index)) % 60)
            place = origin if index < 2 else dest
            checkpoints.append(Checkpoint(time=when, text=text.format(o=origin, d=dest, c=carrier),
                                          location=place, state=state))
        checkpoints.reverse()
        return TrackingResult(state=checkpoints[0].state, checkpoints=tuple(checkpoints))
