"""`SandboxControl`: the Python client of the sandbox's control endpoints.

Tests of every app drive the "phone" and "WeChat" with it; keep it small and stable.

    control = SandboxControl(server.base_url)        # or settings.WECHAT_API_BASE
    login = control.login_code()                     # {"code", "openid", "unionid"}: a new user
    again = control.login_code(openid=login["openid"])
    phone_code = control.phone_code("13800138000")   # the code getPhoneNumber would give
    paid = control.pay(order.out_trade_no)           # pays at WeChat and notifies our server
    paid["deliveries"][0]["acknowledged"]            # True when we answered the SUCCESS XML
    control.pay(no, times=3, concurrent=True)        # the duplicate-notify race
    control.pay(no, notify=False)                    # paid, but the notify never arrives
    control.request_payment(params)                  # what wx.requestPayment(params) does
    control.notify(no)                               # re-send a paid trade's notify
    control.forge_notify(no, kind="wrong_amount")    # see FORGERIES
    control.trade(no)["state"]                       # "NOTPAY" | "SUCCESS" | "CLOSED"

A delivery is {"kind", "xml", "status", "answer", "acknowledged", "error", "sent_at"}. The
sandbox refusing an action (paying a closed trade…) raises SandboxRefused with WeChat's code.
"""

from __future__ import annotations

from typing import Any

import requests

FORGERIES = ("bad_sign", "unsigned", "wrong_amount", "other_appid", "other_mch_id", "malformed")


class SandboxRefused(Exception):
    """The sandbox said no: `code` is WeChat-like (ORDERPAID, ORDERCLOSED, ORDERNOTEXIST…)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class SandboxControl:
    def __init__(self, base_url: str, *, timeout: float = 30) -> None:
        """`base_url` is the sandbox root (settings.WECHAT_API_BASE), with or without "/"."""
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self._http = requests.Session()

    def login_code(self, openid: str | None = None, *, unionid: str = "") -> dict[str, str]:
        """A one-time wx.login() code for `openid` (a new random user when None)."""
        return self._post("login_code", {"openid": openid, "unionid": unionid or None})

    def phone_code(self, phone: str) -> str:
        """A one-time getPhoneNumber code that reveals `phone`."""
        return str(self._post("phone_code", {"phone": phone})["code"])

    def pay(
        self,
        out_trade_no: str,
        *,
        times: int = 1,
        concurrent: bool = False,
        delay_seconds: float = 0,
        notify: bool = True,
    ) -> dict[str, Any]:
        """Pay the trade at WeChat and deliver its notify `times` times (see module docstring)."""
        return self._post(
            "pay",
            {
                "out_trade_no": out_trade_no,
                "times": times,
                "concurrent": concurrent,
                "delay_seconds": delay_seconds,
                "notify": notify,
            },
        )

    def request_payment(
        self,
        params: dict[str, str],
        *,
        times: int = 1,
        concurrent: bool = False,
        delay_seconds: float = 0,
        notify: bool = True,
    ) -> dict[str, Any]:
        """wx.requestPayment: checks appId and paySign, finds the trade by prepay_id, pays it."""
        return self._post(
            "request_payment",
            {
                "params": params,
                "times": times,
                "concurrent": concurrent,
                "delay_seconds": delay_seconds,
                "notify": notify,
            },
        )

    def notify(self, out_trade_no: str, *, times: int = 1, concurrent: bool = False) -> dict[str, Any]:
        """Deliver a paid trade's genuine notify again."""
        return self._post("notify", {"out_trade_no": out_trade_no, "times": times, "concurrent": concurrent})

    def forge_notify(self, out_trade_no: str, *, kind: str) -> dict[str, Any]:
        """Deliver a notify WeChat never sent; `kind` is one of FORGERIES."""
        return self._post("forge_notify", {"out_trade_no": out_trade_no, "kind": kind})

    def notify_body(self, out_trade_no: str, *, kind: str = "genuine") -> bytes:
        """The notify WeChat would POST for a paid trade (or a forgery of it, `kind` in FORGERIES),
        without delivering it."""
        return str(self._post("notify_body", {"out_trade_no": out_trade_no, "kind": kind})["xml"]).encode("utf-8")

    def trade(self, out_trade_no: str) -> dict[str, Any]:
        """The trade as the sandbox knows it (state, total_fee, transaction_id, deliveries…)."""
        return self._get(f"trades/{out_trade_no}")

    def trades(self, state: str | None = None) -> list[dict[str, Any]]:
        return list(self._get("trades", {"state": state} if state else None)["trades"])

    def register_paid_trades(self, trades: list[dict[str, Any]]) -> dict[str, int]:
        """Make trades paid before the sandbox started known to it, as paid (see
        wechat.sandbox.payments.register_paid): {"registered": n, "known": m}."""
        answer = self._post("trades", {"trades": trades})
        return {"registered": int(answer["registered"]), "known": int(answer["known"])}

    def stats(self) -> dict[str, int]:
        """How many requests each WeChat endpoint served ("stable_token", "unifiedorder", …)."""
        return dict(self._get("stats")["calls"])

    def expire_tokens(self) -> int:
        """Expire every issued access token (WeChat then answers 42001)."""
        return int(self._post("expire_tokens", {})["expired"])

    def reset(self) -> None:
        """Forget users, codes, tokens, trades and counters."""
        self._post("reset", {})

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return self._answer(self._http.get(f"{self.base_url}sandbox/{path}", params=params, timeout=self.timeout))

    def _post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in data.items() if v is not None}
        return self._answer(self._http.post(f"{self.base_url}sandbox/{path}", json=body, timeout=self.timeout))

    @staticmethod
    def _answer(response: requests.Response) -> dict[str, Any]:
        data = response.json()
        if response.status_code >= 400:
            raise SandboxRefused(response.status_code, str(data.get("error")), str(data.get("message")))
        return dict(data)

    # --- text security, msgSecCheck v2 (wechat/sandbox/security_api.py) -------------------------

    def security_words(self, *, risky: list[str] | None = None, review: list[str] | None = None,
                       labels: dict[str, int] | None = None) -> dict[str, list[str]]:
        """Replace the word lists that make text risky / review (defaults: 违禁 / 待审)."""
        body: dict[str, Any] = {"risky": risky, "review": review, "label": labels}
        return self._post("security/words", body)

    def security_fail_next(self, count: int, *, errcode: int = -1) -> int:
        """Make the next `count` msg_sec_check calls answer `errcode` (-1: system error)."""
        return int(self._post("security/fail_next", {"count": count, "errcode": errcode})["pending_failures"])

    def security_stale_user(self, openid: str) -> None:
        """The user's last visit is now over two hours old: msg_sec_check answers 61010."""
        self._post("security/stale_user", {"openid": openid})

    def security_checks(self) -> list[dict[str, Any]]:
        """Every msg_sec_check request received ({"body", "errcode", "suggest", "label"}), oldest first."""
        return list(self._get("security/checks")["checks"])

    # --- images, mediaCheckAsync (wechat/sandbox/security_api.py), and the message push (push.py) ----

    def configure_message_push(self, url: str, *, token: str | None = None, encoding_aes_key: str | None = None,
                               mode: str | None = None, data_format: str | None = None) -> dict[str, Any]:
        """What the mini-program admin's 消息推送 page saves (after WeChat's GET echostr check of
        `url`): where and how events are pushed. Raises SandboxRefused (INVALID_CONFIG) otherwise."""
        return self._post("message_push", {"url": url, "token": token, "encoding_aes_key": encoding_aes_key,
                                           "mode": mode, "format": data_format})

    def media_check_options(self, *, default: str | None = None, rules: list[dict[str, Any]] | None = None,
                            next_verdicts: list[str] | None = None, fail_next: list[int] | None = None,
                            push_delay_seconds: float | None = None, retry_delay_seconds: float | None = None,
                            retries: int | None = None, auto_push: bool | None = None) -> dict[str, Any]:
        """Verdicts (the next ones, per-URL rules, the default) and when the verdict is pushed."""
        return self._post("media_check/options", {
            "default": default, "rules": rules, "next": next_verdicts, "fail_next": fail_next,
            "push_delay_seconds": push_delay_seconds, "retry_delay_seconds": retry_delay_seconds,
            "retries": retries, "auto_push": auto_push})

    def media_checks(self) -> list[dict[str, Any]]:
        """Every media_check_async request received, oldest first (trace_id "" when refused)."""
        return list(self._get("media_checks")["checks"])

    def media_check(self, trace_id: str, *, wait: float = 0) -> dict[str, Any]:
        """One accepted check with its fetch and push deliveries; with `wait`, once its automatic
        push is done (or after `wait` seconds)."""
        return self._get(f"media_checks/{trace_id}", {"wait": str(wait)} if wait else None)

    def push_media_check(self, trace_id: str, *, times: int = 1, concurrent: bool = False) -> list[dict[str, Any]]:
        """Push a check's genuine verdict event again, now: its deliveries."""
        return list(self._post("media_check/push", {"trace_id": trace_id, "times": times,
                                                    "concurrent": concurrent})["deliveries"])

    def forge_media_check(self, trace_id: str, *, kind: str, suggest: str | None = None) -> dict[str, Any]:
        """Push a verdict WeChat never sent (kind "bad_signature" or "unsigned"): its delivery."""
        answer = self._post("media_check/forge", {"trace_id": trace_id, "kind": kind, "suggest": suggest})
        return dict(answer["deliveries"][0])

    # --- refunds (wechat/sandbox/refund_api.py) ---------------------------------------------------

    def settle_refund(
        self,
        out_refund_no: str,
        *,
        status: str = "SUCCESS",
        times: int = 1,
        concurrent: bool = False,
        delay_seconds: float = 0,
        notify: bool = True,
    ) -> dict[str, Any]:
        """WeChat finishes a PROCESSING refund (SUCCESS, CHANGE or REFUNDCLOSE) and notifies us
        `times` times (notify=False: never): {"out_refund_no", "refund_id", "status", "deliveries",
        "scheduled"}."""
        return self._post("refund_settle", {"out_refund_no": out_refund_no, "status": status, "times": times,
                                            "concurrent": concurrent, "delay_seconds": delay_seconds,
                                            "notify": notify})

    def refund_notify_body(self, out_refund_no: str, *, kind: str = "genuine") -> bytes:
        """The refund notify WeChat would POST for a settled refund (or a forgery, see
        forge_refund_notify), without delivering it."""
        answer = self._post("refund_notify_body", {"out_refund_no": out_refund_no, "kind": kind})
        return str(answer["xml"]).encode("utf-8")

    def refund_notify(self, out_refund_no: str, *, times: int = 1, concurrent: bool = False) -> dict[str, Any]:
        """Deliver a settled refund's genuine notify again."""
        return self._post("refund_notify", {"out_refund_no": out_refund_no, "times": times,
                                            "concurrent": concurrent})

    def forge_refund_notify(self, out_refund_no: str, *, kind: str) -> dict[str, Any]:
        """Deliver a refund notify WeChat never sent: wrong_key, other_appid, other_mch_id,
        malformed, not_encrypted, wrong_amount."""
        return self._post("refund_forge", {"out_refund_no": out_refund_no, "kind": kind})

    def refund_options(
        self,
        *,
        fail_next: list[str] | None = None,
        auto_settle: bool | None = None,
        settle_delay_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Make the next refund requests fail (["NOTENOUGH", …]) or settle by themselves."""
        return self._post("refund_options", {"fail_next": fail_next, "auto_settle": auto_settle,
                                             "settle_delay_seconds": settle_delay_seconds})

    def refunds(self, out_trade_no: str | None = None) -> list[dict[str, Any]]:
        """Every refund the sandbox accepted (status PROCESSING / SUCCESS / CHANGE / REFUNDCLOSE)."""
        return list(self._get("refunds", {"out_trade_no": out_trade_no} if out_trade_no else None)["refunds"])

    def refund(self, out_refund_no: str) -> dict[str, Any]:
        """One refund as the sandbox knows it, with the notifications it delivered."""
        return self._get(f"refunds/{out_refund_no}")

    # --- subscribe messages (wechat/sandbox/message_api.py) -------------------------------------

    def subscribe(self, openid: str, results: dict[str, str]) -> dict[str, str]:
        """What wx.requestSubscribeMessage does when the user answers: `results` maps template
        id → "accept" | "reject" | "ban" | "filter"; each accept is one consent at WeChat.
        Returns the object the mini-program gets ({"errMsg": "requestSubscribeMessage:ok", …})."""
        return self._post("subscribe", {"openid": openid, "results": results})

    def subscriptions(self, openid: str) -> dict[str, int]:
        """The consents WeChat holds for `openid`: template id → sends left."""
        return dict(self._get("subscriptions", {"openid": openid})["consents"])

    def messages(self, *, touser: str | None = None, template_id: str | None = None) -> list[dict[str, Any]]:
        """Delivered subscribe messages, oldest first: {"msgid", "touser", "template_id", "title",
        "page", "data": {key: value}, "miniprogram_state", "lang", "sent_at"}."""
        query = {k: v for k, v in {"touser": touser, "template_id": template_id}.items() if v is not None}
        return list(self._get("messages", query or None)["messages"])

    def fail_messages(self, *errcodes: int) -> list[int]:
        """Make the next subscribeMessage.send calls answer `errcodes` in order (-1: system busy)."""
        return list(self._post("message_faults", {"errcodes": list(errcodes)})["pending"])

    def register_template(self, template_id: str, keys: list[str], *, title: str = "") -> None:
        """Teach the sandbox a subscribe-message template beyond those in settings."""
        self._post("message_templates", {"template_id": template_id, "keys": keys, "title": title or None})

    # --- shipping-info uploads (wechat/sandbox/shipping_api.py) ---------------------------------

    def shipping_fail_next(self, count: int, *, errcode: int = -1) -> int:
        """Make the next `count` upload_shipping_info calls fail with `errcode` (-1: system error)."""
        return int(self._post("shipping/fail_next", {"count": count, "errcode": errcode})["pending_failures"])

    def shipping_uploads(self, transaction_id: str | None = None) -> list[dict[str, Any]]:
        """Every upload_shipping_info request received (accepted or not), oldest first."""
        params = {"transaction_id": transaction_id} if transaction_id else None
        return list(self._get("shipping/uploads", params)["uploads"])

    def shipping_order(self, transaction_id: str) -> dict[str, Any]:
        """The payment's shipping as WeChat knows it (order_state 1 待发货 / 2 已发货, shipping_list…)."""
        return self._get(f"shipping/orders/{transaction_id}")

    # --- mini-program codes, getwxacodeunlimit (wechat/sandbox/wxacode_api.py) -----------------

    def wxacodes(self, scene: str | None = None) -> list[dict[str, Any]]:
        """Every mini-program code the sandbox generated, oldest first: {"scene", "page", "width",
        "env_version", "check_path", "is_hyaline", "size_bytes", "sha256", "generated_at"}."""
        return list(self._get("wxacodes", {"scene": scene} if scene is not None else None)["codes"])

    def scan_wxacode(self, png: bytes) -> dict[str, str]:
        """What the phone's camera reads from a sandbox mini-program code: {"scene", "page"}.
        Raises SandboxRefused (NOT_A_WXACODE) for any other image."""
        response = self._http.post(f"{self.base_url}sandbox/wxacode/scan", data=png,
                                   headers={"Content-Type": "image/png"}, timeout=self.timeout)
        return {str(k): str(v) for k, v in self._answer(response).items()}

    def wxacode_fail_next(self, count: int, *, errcode: int = -1) -> int:
        """Make the next `count` getwxacodeunlimit calls answer `errcode` (-1 busy, 45009 quota…)."""
        return int(self._post("wxacode/fail_next", {"count": count, "errcode": errcode})["pending_failures"])

    def wxacode_released_pages(self, pages: list[str]) -> list[str]:
        """Set the released version's pages, which getwxacodeunlimit checks when check_path is true."""
        return list(self._post("wxacode/pages", {"pages": pages})["pages"])

    # --- payouts, 商家转账 (wechat/sandbox/transfer_api.py) ----------------------------------------

    def transfers(self, state: str | None = None) -> list[dict[str, Any]]:
        """Every transfer bill the sandbox holds (state ACCEPTED / WAIT_USER_CONFIRM / SUCCESS / FAIL /
        CANCELLED), with the notifies it delivered."""
        return list(self._get("transfers", {"state": state} if state else None)["transfers"])

    def transfer(self, out_bill_no: str) -> dict[str, Any]:
        """One bill as WeChat has it (package_info, fail_reason, deliveries…)."""
        return self._get(f"transfers/{out_bill_no}")

    def confirm_transfer(self, out_bill_no: str, *, package: str | None = None, times: int = 1,
                         concurrent: bool = False, notify: bool = True) -> dict[str, Any]:
        """What wx.requestMerchantTransfer does when the member confirms (checks `package` when given):
        SUCCESS, and the notify delivered `times` times (none with notify=False)."""
        return self._post(f"transfers/{out_bill_no}/confirm", {"package": package, "times": times,
                                                               "concurrent": concurrent, "notify": notify})

    def fail_transfer(self, out_bill_no: str, *, reason: str = "PAYEE_ACCOUNT_ABNORMAL", times: int = 1,
                      concurrent: bool = False, notify: bool = True) -> dict[str, Any]:
        """WeChat fails the bill with `reason` (a fail_reason code) and notifies."""
        return self._post(f"transfers/{out_bill_no}/fail", {"reason": reason, "times": times,
                                                            "concurrent": concurrent, "notify": notify})

    def expire_transfer(self, out_bill_no: str, *, times: int = 1, concurrent: bool = False,
                        notify: bool = True) -> dict[str, Any]:
        """The member never confirmed in time: CANCELLED, and the notify."""
        return self._post(f"transfers/{out_bill_no}/expire", {"times": times, "concurrent": concurrent,
                                                              "notify": notify})

    def ready_transfer(self, out_bill_no: str) -> dict[str, Any]:
        """An ACCEPTED bill (see transfer_options(accept_only_next=…)) now waits for the member."""
        return self._post(f"transfers/{out_bill_no}/ready", {})

    def transfer_notify(self, out_bill_no: str, *, times: int = 1, concurrent: bool = False) -> dict[str, Any]:
        """Deliver a final bill's notify again (same notification id, signed anew)."""
        return self._post(f"transfers/{out_bill_no}/notify", {"times": times, "concurrent": concurrent})

    def forge_transfer_notify(self, out_bill_no: str, *, kind: str) -> dict[str, Any]:
        """Deliver a transfer notify WeChat never sent: bad_signature, unsigned, other_serial, stale,
        wrong_apiv3_key, tampered_ciphertext, other_mch_id, wrong_amount, malformed, garbage."""
        return self._post(f"transfers/{out_bill_no}/forge", {"kind": kind})

    def transfer_options(self, *, fail_next: list[str] | None = None, delay_next_seconds: float | None = None,
                         accept_only_next: int | None = None) -> dict[str, Any]:
        """Refuse the next new bills (["NOT_ENOUGH", …]), answer the next create late (a timeout),
        or keep the next new bills ACCEPTED."""
        return self._post("transfer_options", {"fail_next": fail_next, "delay_next_seconds": delay_next_seconds,
                                               "accept_only_next": accept_only_next})
