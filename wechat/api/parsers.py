"""Bodies WeChat sends us (payment and refund notifies, message pushes), read as bytes."""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import BaseParser

# Far above anything WeChat sends (a notify is ~1 KB, a push a few KB); a bigger body is not WeChat's.
MAX_CALLBACK_BYTES = 64 * 1024


class RawBodyParser(BaseParser):
    """Leaves the body as bytes, so a signature is verified over exactly what WeChat sent; reads at
    most MAX_CALLBACK_BYTES + 1 of it, whatever Content-Length says, so the caller can refuse a
    longer one without holding it in memory."""

    media_type = "*/*"

    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> bytes:
        return stream.read(MAX_CALLBACK_BYTES + 1) if stream else b""
