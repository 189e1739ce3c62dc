"""What WeChat sends us (payment and refund notifies, message pushes) is UTF-8 text, XML without a
document type or JSON: a body that is anything else is refused before a parser sees it. So no
entity is ever declared, expanded or fetched (xmltodict refuses entity declarations too: two locks
on that door), no other encoding is guessed at, and no NUL reaches the database."""

from __future__ import annotations

import re

# "<!DOCTYPE" / "<!ENTITY" in any case: XML spells them in capitals only, so this errs on refusing.
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def inbound_text(body: bytes) -> str:
    """`body` as text when it is UTF-8 without NUL characters and without a DTD; else ValueError
    naming the problem ("encoding", "nul", "dtd")."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("encoding") from exc
    if "\x00" in text:
        raise ValueError("nul")
    if _DTD.search(text):
        raise ValueError("dtd")
    return text
