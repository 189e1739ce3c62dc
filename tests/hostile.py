"""Hostile bodies for WeChat's callbacks (payment and refund notifies): what an attacker or a broken
network sends instead of WeChat's body, and how the answer to one must look."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

FAIL = b"<return_code><![CDATA[FAIL]]></return_code>"
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b"]><xml><return_code>&lol9;</return_code></xml>")
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                   b"<xml><return_code>&e;</return_code></xml>")


def assert_refused(response: Any) -> None:
    """WeChat's FAIL answer, with the 400 that makes WeChat deliver again later."""
    assert response.status_code == 400, response.content
    assert FAIL in response.content and response["Content-Type"] == "application/xml"


def structural_cuts(body: bytes) -> list[int]:
    """A cut in every kind of place, for every element: before a tag, inside its name, after it,
    inside a CDATA marker, in the middle of a value; and at both ends."""
    cuts = {0, 1, len(body) - 1}
    starts = [i for i, byte in enumerate(body) if byte == ord("<")]
    for start, end in zip(starts, [*starts[1:], len(body)], strict=True):
        close = body.index(b">", start) if b">" in body[start:end] else end - 1
        cuts.update({start, start + 2, close + 1, (close + 1 + end) // 2})
    return sorted(c for c in cuts if 0 <= c < len(body))


def mutations(genuine: bytes) -> st.SearchStrategy[bytes]:
    """Bodies near a genuine one: a byte flipped, bytes inserted or overwritten, cut short; or noise."""
    positions = st.integers(min_value=0, max_value=len(genuine) - 1)
    flip = st.tuples(positions, st.integers(min_value=1, max_value=255)).map(
        lambda p: genuine[:p[0]] + bytes([genuine[p[0]] ^ p[1]]) + genuine[p[0] + 1:])
    insert = st.tuples(positions, st.binary(min_size=1, max_size=8)).map(
        lambda p: genuine[:p[0]] + p[1] + genuine[p[0]:])
    replace = st.tuples(positions, st.binary(min_size=1, max_size=16)).map(
        lambda p: genuine[:p[0]] + p[1] + genuine[p[0] + len(p[1]):])
    cut = positions.map(lambda n: genuine[:n])
    return st.one_of(flip, insert, replace, cut, st.binary(max_size=256))


def assert_each_refused_in_one_log_line(bodies: Mapping[str, bytes], post: Callable[[bytes], Any], url: str,
                                        caplog: Any) -> None:
    """Each body is answered FAIL (400) and logged in exactly one line saying the notify was refused."""
    for name, body in bodies.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            response = post(body)
        assert response.status_code == 400 and FAIL in response.content, name
        assert [(r.name, r.levelname) for r in caplog.records] == [("django.request", "WARNING")], name
        assert caplog.records[0].getMessage().startswith(f"WeChat notify to {url} refused"), name
