"""The subscribe-message templates, from settings.WECHAT_SUBSCRIBE_TEMPLATES (read at call time).

    order_paid → Template(id="…", title="订单支付成功通知", page="pages/order/detail?order_no={order_no}",
                          fields={"character_string1": "order_no", "amount2": "amount", …})

`fields` maps WeChat's key (its type and position, fixed by the template chosen in the
mini-program admin) to the name of one of our values. `render()` turns our values into the
`data` and `page` of a send, each value cut to its key type's limits.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core.errors import ValidationFailed
from wechat.messages.fields import FieldFormatError, format_value

PAGE_MAX_LENGTH = 200


@dataclass(frozen=True)
class Template:
    key: str
    id: str
    title: str
    page: str
    fields: Mapping[str, str]


class UnknownTemplate(ValidationFailed):
    code = "unknown_template"
    message = "未知的订阅消息模板"


def templates() -> dict[str, Template]:
    """Every configured template by our key, in settings order."""
    configured: dict[str, dict[str, Any]] = settings.WECHAT_SUBSCRIBE_TEMPLATES
    return {
        key: Template(key=key, id=str(spec.get("id") or ""), title=str(spec.get("title") or key),
                      page=str(spec.get("page") or ""), fields=dict(spec["fields"]))
        for key, spec in configured.items()
    }


def template_get(key: str) -> Template:
    """The template configured under `key`; UnknownTemplate when there is none."""
    template = templates().get(key)
    if template is None:
        raise UnknownTemplate(detail={"template_key": key})
    return template


def template_by_id() -> dict[str, Template]:
    """Configured templates by WeChat template id (templates without an id are left out)."""
    return {t.id: t for t in templates().values() if t.id}


def template_title(key: str) -> str:
    """The template's Chinese title for the console, or the key itself when no longer configured."""
    template = templates().get(key)
    return template.title if template else key


def render(template: Template, values: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    """(data, page) for a send: each WeChat key's value formatted to its type's limits, and the
    page with `{name}` filled from `values` (URL-quoted). FieldFormatError when a value is missing
    or cannot be shown in its type."""
    data: dict[str, str] = {}
    for wechat_key, name in template.fields.items():
        if name not in values:
            raise FieldFormatError(f"缺少字段 {name}（{wechat_key}）")
        try:
            data[wechat_key] = format_value(wechat_key, values[name])
        except FieldFormatError as exc:
            raise FieldFormatError(f"{wechat_key}（{name}）：{exc}") from exc
    quoted = {name: urllib.parse.quote(str(value), safe="") for name, value in values.items()}
    try:
        page = template.page.format_map(quoted)
    except (KeyError, IndexError, ValueError) as exc:
        raise FieldFormatError(f"跳转页面缺少参数：{exc}") from exc
    if len(page) > PAGE_MAX_LENGTH:
        raise FieldFormatError(f"跳转页面超过 {PAGE_MAX_LENGTH} 个字符")
    return data, page
