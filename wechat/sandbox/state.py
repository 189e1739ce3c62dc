"""The sandbox's memory: who exists, which codes and tokens are live, every trade.

One re-entrant lock guards it all; handlers take it for the whole read-modify-write of a
request (never across network I/O such as notify delivery), which is what makes "each code
works once" and "pay a trade once" hold under concurrent requests.
"""

from __future__ import annotations

import datetime as dt
import string
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from wechat.sandbox.wire import format_time, random_token

if TYPE_CHECKING:
    from wechat.sandbox.v3wire import V3Keys

CODE_TTL_SECONDS = 300  # wx.login() and getPhoneNumber codes live 5 minutes at WeChat
TOKEN_TTL_SECONDS = 7200
OLD_TOKEN_GRACE_SECONDS = 300  # cgi-bin/token keeps the previous token alive 5 more minutes


@dataclass
class User:
    openid: str
    unionid: str = ""
    session_key: str = ""


@dataclass
class Code:
    """A one-time code: a wx.login() code (value = openid) or a phone code (value = phone)."""

    value: str
    expires_at: float
    used: bool = False


@dataclass
class Delivery:
    """One notification POSTed to a trade's notify_url and what our server answered."""

    kind: str  # "genuine" or the forgery kind
    xml: str
    status: int | None = None  # HTTP status; None when the request failed
    answer: str = ""
    acknowledged: bool = False  # the answer was a SUCCESS XML: WeChat stops retrying
    error: str = ""
    sent_at: str = ""


@dataclass
class Trade:
    out_trade_no: str
    prepay_id: str
    body: str
    total_fee: int
    openid: str
    notify_url: str
    spbill_create_ip: str
    trade_type: str = "JSAPI"
    attach: str = ""
    time_expire: str = ""  # yyyyMMddHHmmss (Shanghai) as sent, "" when none
    state: str = "NOTPAY"  # NOTPAY -> SUCCESS | CLOSED
    created_at: str = ""
    transaction_id: str = ""
    time_end: str = ""
    deliveries: list[Delivery] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SandboxState:
    app_id: str
    app_secret: str
    mch_id: str
    api_key: str
    # Pay v3: the APIv3 key (notify encryption), the id of WeChat Pay's public key, and the keys
    # (set by the server from its certificates; kept by reset(), like the credentials).
    apiv3_key: str = ""
    public_key_id: str = ""
    pay_v3: V3Keys | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, User] = field(default_factory=dict)
    login_codes: dict[str, Code] = field(default_factory=dict)
    phone_codes: dict[str, Code] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry (epoch)
    stable_token: str = ""
    last_plain_token: str = ""
    trades: dict[str, Trade] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # endpoint name -> requests served
    # State of the feature modules (refunds, shipping uploads, messages, text checks), one
    # entry per module, so each can grow without touching this class.
    extras: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        """Forget everything but the credentials (tests call this between cases)."""
        with self.lock:
            self.users.clear()
            self.login_codes.clear()
            self.phone_codes.clear()
            self.tokens.clear()
            self.stable_token = ""
            self.last_plain_token = ""
            self.trades.clear()
            self.calls.clear()
            self.extras.clear()

    def count(self, endpoint: str) -> None:
        with self.lock:
            self.calls[endpoint] += 1

    def token_status(self, token: str) -> int:
        """0 when `token` is valid, else WeChat's errcode: 40001 unknown, 42001 expired."""
        with self.lock:
            expires_at = self.tokens.get(token)
        if expires_at is None:
            return 40001
        return 0 if expires_at > time.time() else 42001

    def expire_tokens(self) -> int:
        """Make every issued access token expired (42001), as if two hours had passed."""
        with self.lock:
            past = time.time() - 1
            for token in self.tokens:
                self.tokens[token] = past
            return len(self.tokens)

    def use_code(self, codes: dict[str, Code], code: str) -> tuple[int, str]:
        """(0, value) and the code is spent, or (40029 unknown/expired | 40163 used, "")."""
        with self.lock:
            entry = codes.get(code)
            if entry is None or entry.expires_at < time.time():
                return 40029, ""
            if entry.used:
                return 40163, ""
            entry.used = True
            return 0, entry.value

    def new_transaction_id(self, moment: dt.datetime) -> str:
        # 28 digits like WeChat's: a fixed prefix, the Shanghai date, 16 random digits — random,
        # not a counter, so a restarted sandbox never repeats an id our database already holds.
        return f"4200{format_time(moment)[:8]}{random_token(16, string.digits)}"
