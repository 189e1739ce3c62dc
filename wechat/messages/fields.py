"""Subscribe-message values cut to WeChat's limits, one formatter per key type.

A template's keys are named by type and position (`thing3`, `amount2`, `character_string1`);
the type decides what WeChat accepts (its "参数值内容限制"). A value that is too long is cut
sensibly — text ends with "…", an identifier with "..." — so WeChat never rejects a message for
length. A value that cannot be shown at all in its type (text for an amount, a negative amount)
is a mistake in our code or settings: FieldFormatError, and the message is logged as rejected.

    format_value("thing3", "有机婴儿奶粉 1段 800g 罐装 新西兰原装进口")  -> '有机婴儿奶粉 1段 800g 罐装 新…'
    format_value("thing3", Suffixed("有机婴儿奶粉 1段 800g 罐装", "等3件"))  -> '有机婴儿奶粉 1段 800g 罐…等3件'
    format_value("amount2", 1230)                       -> '¥12.30'   (int = fen)
    format_value("time4", aware_datetime)               -> '2026年11月23日 12:00'  (Shanghai)
    format_value("phrase2", "审核通过")                  -> '审核通过'
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from core.money import yuan

ELLIPSIS = "…"
ASCII_ELLIPSIS = "..."

# WeChat's limits (characters; a Chinese character counts as one).
LIMITS = {
    "thing": 20,
    "short_thing": 5,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "amount_digits": 10,
    "phone_number": 17,
    "car_number": 8,
    "name_chinese": 10,
    "name_latin": 20,
    "phrase": 5,
}

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_NOT_CJK = re.compile(f"[^{_CJK}]")
_WHITESPACE = re.compile(r"\s+")
_TIME_TEXT = re.compile(
    r"^(?:\d{4}年\d{1,2}月\d{1,2}日 ?|\d{4}[-/]\d{1,2}[-/]\d{1,2} )?\d{1,2}:\d{2}(?::\d{2})?$"
)
_DATE_TEXT = re.compile(
    r"^(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}[-/]\d{1,2}[-/]\d{1,2})(?: ?\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_AMOUNT_TEXT = re.compile(r"^[¥￥$]?\d{1,10}(?:\.\d{1,2})?元?$")


class FieldFormatError(ValueError):
    """A value that has no sensible form in its WeChat type (our code or settings are wrong)."""


@dataclass(frozen=True)
class Suffixed:
    """Text whose end must survive a cut: the head is shortened, the suffix kept whole.

    Suffixed("有机婴儿奶粉 1段 800g 罐装", "等3件") as a `thing` keeps "等3件" however long
    the product name is.
    """

    text: str
    suffix: str

    def __str__(self) -> str:
        return self.text + self.suffix


def key_type(key: str) -> str:
    """WeChat's type of a template key: the key without its trailing digits (`thing3` → thing)."""
    return key.rstrip("0123456789")


def format_value(key: str, value: Any) -> str:
    """`value` as WeChat accepts it in key `key`; FieldFormatError when it cannot be shown."""
    if value is None:
        raise FieldFormatError(f"{key} 没有值")
    formatter = FORMATTERS.get(key_type(key), format_thing)
    return formatter(value)


# --- text ----------------------------------------------------------------------------------------


def clean_text(value: Any) -> str:
    """One line of printable text: control characters and line breaks become spaces, runs of
    spaces collapse, and characters outside the Basic Multilingual Plane (emoji) are dropped —
    WeChat's text types reject or mangle them."""
    text = str(value)
    kept = []
    for char in text:
        if ord(char) > 0xFFFF or unicodedata.category(char) in {"Cs", "Co"}:
            continue
        if char == "\ufe0f" or char == "\u200d":  # emoji variation selector / zero-width joiner
            continue
        kept.append(" " if unicodedata.category(char).startswith("C") or char.isspace() else char)
    return _WHITESPACE.sub(" ", "".join(kept)).strip()


def cut(text: str, limit: int, *, mark: str = ELLIPSIS) -> str:
    """`text` if it fits in `limit` characters, else its start and `mark` within the limit."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(mark), 0)].rstrip() + mark


def _cut_text(value: Any, limit: int, placeholder: str) -> str:
    if isinstance(value, Suffixed):
        lead = " " if value.suffix[:1].isspace() else ""  # " ×2" keeps its space
        suffix = (lead + clean_text(value.suffix))[:limit]
        head = clean_text(value.text)
        if not head:
            return suffix or placeholder
        return cut(head, limit - len(suffix)) + suffix if len(head) + len(suffix) > limit else head + suffix
    return cut(clean_text(value), limit) or placeholder


def format_thing(value: Any) -> str:
    """thing: at most 20 characters of any kind; longer text ends with "…"."""
    return _cut_text(value, LIMITS["thing"], "无")


def format_short_thing(value: Any) -> str:
    """short_thing: at most 5 characters."""
    return _cut_text(value, LIMITS["short_thing"], "无")


def format_character_string(value: Any) -> str:
    """character_string: at most 32 letters, digits and ASCII symbols; anything else is dropped
    (spaces, Chinese), and a longer one ends with "..."."""
    text = "".join(ch for ch in clean_text(value) if "!" <= ch <= "~")
    return cut(text, LIMITS["character_string"], mark=ASCII_ELLIPSIS) or "-"


def format_letter(value: Any) -> str:
    """letter: at most 32 ASCII letters."""
    text = "".join(ch for ch in str(value) if ch.isascii() and ch.isalpha())
    if not text:
        raise FieldFormatError(f"字母类字段没有字母：{value!r}")
    return text[: LIMITS["letter"]]


def format_symbol(value: Any) -> str:
    """symbol: at most 5 symbols (no letters, digits, Chinese or spaces)."""
    text = "".join(ch for ch in clean_text(value)
                   if not ch.isalnum() and not ch.isspace() and not _CJK_CHAR.match(ch))
    return text[: LIMITS["symbol"]] or "-"


def format_phrase(value: Any) -> str:
    """phrase: at most 5 Chinese characters, nothing else (a status: 已发货, 退款成功)."""
    text = _NOT_CJK.sub("", str(value))
    if not text:
        raise FieldFormatError(f"phrase 只能是汉字：{value!r}")
    return text[: LIMITS["phrase"]]


def format_name(value: Any) -> str:
    """name: at most 10 characters when it has Chinese in it, else 20 letters or symbols."""
    text = clean_text(value)
    if _CJK_CHAR.search(text):
        return text[: LIMITS["name_chinese"]]
    return text[: LIMITS["name_latin"]] or "-"


def format_phone_number(value: Any) -> str:
    """phone_number: at most 17 digits and symbols (+86-571-88888888)."""
    text = "".join(ch for ch in str(value) if ch.isdigit() or ch in "+-()")
    if not text:
        raise FieldFormatError(f"电话号码没有数字：{value!r}")
    return text[: LIMITS["phone_number"]]


def format_car_number(value: Any) -> str:
    """car_number: at most 8 characters (粤A8Z888挂)."""
    text = clean_text(value).replace(" ", "")
    if not text:
        raise FieldFormatError("车牌号为空")
    return text[: LIMITS["car_number"]]


# --- numbers and money ---------------------------------------------------------------------------


def format_number(value: Any) -> str:
    """number: at most 32 digits, decimals allowed (a points balance, a count)."""
    if isinstance(value, bool):
        raise FieldFormatError(f"数字字段不能是布尔值：{value!r}")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, str) and re.fullmatch(r"-?\d+(?:\.\d+)?", value.strip()):
        text = value.strip()
    else:
        raise FieldFormatError(f"不是数字：{value!r}")
    if text.startswith("-"):
        raise FieldFormatError(f"数字不能为负：{value!r}")
    if len(text) > LIMITS["number"] and "." in text:
        text = text[: LIMITS["number"]].rstrip(".")
    if len(text) > LIMITS["number"]:
        raise FieldFormatError(f"数字超过 32 位：{value!r}")
    return text


def format_amount(value: Any) -> str:
    """amount: an int is fen and shows as yuan, '¥12.30'. WeChat allows a currency sign and at
    most 10 digits, so from ¥100,000,000 on the fen are left out. Text already in WeChat's form
    ('12.30元') passes through."""
    if isinstance(value, str) and _AMOUNT_TEXT.match(value.strip()):
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldFormatError(f"金额须为整数分：{value!r}")
    if value < 0:
        raise FieldFormatError(f"金额不能为负：{value!r}")
    text = yuan(value)
    if len(text) - 1 > LIMITS["amount_digits"]:
        text = text.split(".")[0]
    if len(text) > LIMITS["amount_digits"]:
        raise FieldFormatError(f"金额过大：{value!r}")
    return f"¥{text}"


# --- time ----------------------------------------------------------------------------------------


def _local(moment: dt.datetime) -> dt.datetime:
    return timezone.localtime(moment) if timezone.is_aware(moment) else moment


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def format_time(value: Any) -> str:
    """time: '2026年11月23日 12:00' (Shanghai time) from a datetime; a (start, end) pair is a
    period, joined with "~". Text already in a form WeChat accepts passes through."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"{format_time(value[0])}~{format_time(value[1])}"
    if isinstance(value, dt.datetime):
        local = _local(value)
        return f"{_chinese_date(local.date())} {local:%H:%M}"
    if isinstance(value, str) and _TIME_TEXT.match(value.strip()):
        return value.strip()
    raise FieldFormatError(f"时间字段需要时间（不只是日期）：{value!r}")


def format_date(value: Any) -> str:
    """date: '2026年11月23日' from a date or a datetime (its Shanghai date); a (start, end) pair is
    a period. Text already in a form WeChat accepts passes through."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"{format_date(value[0])}~{format_date(value[1])}"
    if isinstance(value, dt.datetime):
        return _chinese_date(_local(value).date())
    if isinstance(value, dt.date):
        return _chinese_date(value)
    if isinstance(value, str) and _DATE_TEXT.match(value.strip()):
        return value.strip()
    raise FieldFormatError(f"不是日期：{value!r}")


def format_enum(value: Any) -> str:
    """enum: one of the values WeChat lists for the key; passed as given."""
    text = clean_text(value)
    if not text:
        raise FieldFormatError("枚举值为空")
    return text


FORMATTERS: dict[str, Callable[[Any], str]] = {
    "thing": format_thing,
    "short_thing": format_short_thing,
    "number": format_number,
    "letter": format_letter,
    "symbol": format_symbol,
    "character_string": format_character_string,
    "time": format_time,
    "date": format_date,
    "amount": format_amount,
    "phone_number": format_phone_number,
    "car_number": format_car_number,
    "name": format_name,
    "phrase": format_phrase,
    "enum": format_enum,
}
