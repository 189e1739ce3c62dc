"""Mini-program server APIs (jscode2session, access token, phone number). Implemented by the
WeChat helper task; see wechat/gateway.py for the payment port."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    openid: str
    session_key: str
    unionid: str = ""


def code_to_session(code: str) -> Session:
    raise NotImplementedError


def get_phone_number(code: str) -> str:
    raise NotImplementedError
