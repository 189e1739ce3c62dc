"""WeChat Pay v2 wire format, written independently of wechatpy so the sandbox checks our
client instead of sharing its bugs: MD5 signatures and flat `<xml>` documents."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y%m%d%H%M%S"


def sign_md5(fields: dict[str, str], api_key: str) -> str:
    """WeChat Pay's MD5 signature: non-empty fields except `sign`, sorted by name, joined as
    `k=v&…`, then `&key=API_KEY`, MD5, upper-case hex."""
    pairs = [f"{k}={v}" for k, v in sorted(fields.items()) if k != "sign" and v != ""]
    pairs.append(f"key={api_key}")
    return hashlib.md5("&".join(pairs).encode("utf-8")).hexdigest().upper()


def signed(fields: dict[str, str], api_key: str) -> dict[str, str]:
    """`fields` plus a fresh `nonce_str` (unless present) and their `sign`."""
    out = dict(fields)
    out.setdefault("nonce_str", random_token(32))
    out["sign"] = sign_md5(out, api_key)
    return out


def to_xml(fields: dict[str, str]) -> bytes:
    """A flat `<xml>` document as WeChat writes it: numbers bare, text in CDATA."""
    parts = ["<xml>"]
    for key, value in fields.items():
        if value.isdigit():
            parts.append(f"<{key}>{value}</{key}>")
        else:
            # A literal "]]>" would end the CDATA section early; split it across two sections.
            safe = value.replace("]]>", "]]]]><![CDATA[>")
            parts.append(f"<{key}><![CDATA[{safe}]]></{key}>")
    parts.append("</xml>")
    return "".join(parts).encode("utf-8")


def parse_xml(body: bytes) -> dict[str, str] | None:
    """The children of a flat `<xml>` root as text, or None when it is not one."""
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError):
        return None
    if root.tag != "xml":
        return None
    return {child.tag: (child.text or "") for child in root}


def random_token(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def shanghai_now() -> dt.datetime:
    return dt.datetime.now(SHANGHAI)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None
