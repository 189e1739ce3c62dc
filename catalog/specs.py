"""SKU specs as operators type them: {"颜色": "红", "尺码": "M"} <-> "颜色:红;尺码:M".

Full-width ：； are accepted too, and a JSON object. The console's SKU form and the SKU import read
specs with the same parser, so a file and the form accept the same text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError

_SPEC_SEPARATORS = re.compile(r"[;；\n]")
_SPEC_COLON = re.compile(r"[:：]")


def specs_to_text(specs: dict[str, Any] | None) -> str:
    return ";".join(f"{name}:{value}" for name, value in (specs or {}).items())


def specs_from_text(text: str) -> dict[str, str]:
    """Parse '颜色:红;尺码:M' (or a JSON object) into a dict, keeping the typed order.

    Raises ValidationError with a message an operator can act on.
    """
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        return _specs_from_json(text)
    specs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in _SPEC_SEPARATORS.split(text))):
        pieces = _SPEC_COLON.split(part, maxsplit=1)
        if len(pieces) != 2 or not pieces[0].strip() or not pieces[1].strip():
            raise ValidationError(
                f"规格“{part}”格式不对，应为“规格名:规格值”，多个用分号隔开，如 颜色:红;尺码:M")
        name, value = pieces[0].strip(), pieces[1].strip()
        if name in specs:
            raise ValidationError(f"规格名“{name}”重复")
        specs[name] = value
    return specs


def _specs_from_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError("规格 JSON 格式有误") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str | int | float) for v in data.values()):
        raise ValidationError("规格应为 {\"规格名\": \"规格值\"} 形式")
    return {str(k).strip(): str(v).strip() for k, v in data.items()}
