"""Subscribe-message values cut to WeChat's limits, one formatter per key type.

Each formatted value is also checked against the sandbox's own rules (written from WeChat's
table separately), so the two cannot drift apart silently.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from wechat.messages.fields import FieldFormatError, Suffixed, format_value, key_type
from wechat.sandbox.message_api import RULES

SHANGHAI = ZoneInfo("Asia/Shanghai")


def accepted_by_wechat(key: str, value: str) -> bool:
    return RULES[key_type(key)](value)


@pytest.mark.parametrize(("key", "expected"), [
    ("thing3", "thing"), ("character_string12", "character_string"), ("short_thing1", "short_thing"),
    ("amount2", "amount"), ("phone_number5", "phone_number"), ("time4", "time"),
])
def test_the_key_type_is_the_key_without_its_position(key, expected):
    assert key_type(key) == expected


# --- thing ---------------------------------------------------------------------------------------


def test_a_short_thing_is_kept_as_it_is():
    assert format_value("thing3", "有机奶粉 1段") == "有机奶粉 1段"


def test_a_long_thing_is_cut_to_20_characters_ending_with_an_ellipsis():
    value = format_value("thing3", "有机婴儿奶粉 1段 800g 罐装 新西兰原装进口 送勺子")

    assert value == "有机婴儿奶粉 1段 800g 罐装 新…"
    assert len(value) == 20
    assert accepted_by_wechat("thing3", value)


def test_exactly_20_characters_are_not_cut():
    twenty = "一二三四五六七八九十一二三四五六七八九十"
    assert format_value("thing1", twenty) == twenty


def test_a_suffix_survives_the_cut():
    value = format_value("thing2", Suffixed("有机婴儿奶粉 1段 800g 罐装 新西兰原装进口", "等3件"))

    assert value == "有机婴儿奶粉 1段 800g 罐…等3件"
    assert len(value) == 20


def test_a_short_text_with_a_suffix_is_joined_whole():
    assert format_value("thing2", Suffixed("湿巾", " ×2")) == "湿巾 ×2"


def test_line_breaks_and_emoji_are_removed_from_text():
    value = format_value("thing4", "商品破损\n请尽快处理😀\t谢谢")

    assert value == "商品破损 请尽快处理 谢谢"
    assert accepted_by_wechat("thing4", value)


def test_an_empty_thing_gets_a_placeholder_because_wechat_refuses_empty_values():
    assert format_value("thing4", "  ") == "无"


def test_a_short_thing_is_at_most_5_characters():
    assert format_value("short_thing1", "待收货待收货") == "待收货待…"


# --- identifiers ---------------------------------------------------------------------------------


def test_a_character_string_keeps_letters_digits_and_ascii_symbols_only():
    assert format_value("character_string1", "SF 1234-5678（顺丰）") == "SF1234-5678"


def test_a_long_character_string_is_cut_to_32_with_an_ascii_ellipsis():
    value = format_value("character_string4", "A" * 40)

    assert value == "A" * 29 + "..."
    assert accepted_by_wechat("character_string4", value)


def test_an_order_number_passes_unchanged():
    assert format_value("character_string1", "M20261123000001") == "M20261123000001"


def test_letters_only_for_a_letter_key():
    assert format_value("letter1", "VIP-2 gold") == "VIPgold"
    with pytest.raises(FieldFormatError):
        format_value("letter1", "123")


def test_symbols_only_for_a_symbol_key():
    assert format_value("symbol1", "★★★ 五星 ☆☆☆") == "★★★☆☆"


# --- numbers and money ---------------------------------------------------------------------------


@pytest.mark.parametrize(("fen", "expected"), [
    (1230, "¥12.30"), (5, "¥0.05"), (0, "¥0.00"), (1999, "¥19.99"), (123456789012, "¥1234567890"),
])
def test_an_amount_in_fen_shows_as_yuan_within_10_digits(fen, expected):
    value = format_value("amount2", fen)

    assert value == expected
    assert accepted_by_wechat("amount2", value)


def test_an_amount_already_in_wechat_form_passes():
    assert format_value("amount3", "12.30元") == "12.30元"


@pytest.mark.parametrize("bad", [-1, 12.3, "十二元", True, 10**13])
def test_an_amount_that_cannot_be_shown_is_a_format_error(bad):
    with pytest.raises(FieldFormatError):
        format_value("amount2", bad)


@pytest.mark.parametrize(("value", "expected"), [(2500, "2500"), (Decimal("12.50"), "12.50"), ("007", "007")])
def test_numbers_are_digits(value, expected):
    assert format_value("number1", value) == expected


@pytest.mark.parametrize("bad", [-3, "12 个", True])
def test_a_number_that_is_not_digits_is_a_format_error(bad):
    with pytest.raises(FieldFormatError):
        format_value("number1", bad)


# --- time ----------------------------------------------------------------------------------------


def test_a_time_is_shown_in_shanghai_time_in_wechat_form():
    moment = dt.datetime(2026, 11, 23, 4, 5, tzinfo=dt.UTC)  # 12:05 in Shanghai

    value = format_value("time4", moment)

    assert value == "2026年11月23日 12:05"
    assert accepted_by_wechat("time4", value)


def test_a_period_is_two_times_joined_with_a_tilde():
    start = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    value = format_value("time2", (start, start + dt.timedelta(hours=2)))

    assert value == "2026年11月23日 10:00~2026年11月23日 12:00"
    assert accepted_by_wechat("time2", value)


def test_a_date_alone_is_not_a_time():
    with pytest.raises(FieldFormatError):
        format_value("time4", dt.date(2026, 11, 23))


def test_a_date_from_a_date_or_a_datetime():
    assert format_value("date3", dt.date(2026, 12, 1)) == "2026年12月1日"
    late_evening_utc = dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC)  # already 1 Dec in Shanghai
    assert format_value("date3", late_evening_utc) == "2026年12月1日"
    assert accepted_by_wechat("date3", "2026年12月1日")


def test_time_text_in_a_form_wechat_accepts_passes():
    assert format_value("time4", "2026-11-23 12:00") == "2026-11-23 12:00"


# --- words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("审核通过", "审核通过"), ("已发货（部分）", "已发货部分"), ("退款处理中请稍候", "退款处理中"),
])
def test_a_phrase_is_at_most_5_chinese_characters(value, expected):
    formatted = format_value("phrase2", value)

    assert formatted == expected
    assert accepted_by_wechat("phrase2", formatted)


def test_a_phrase_without_chinese_is_a_format_error():
    with pytest.raises(FieldFormatError):
        format_value("phrase2", "OK")


def test_names_chinese_up_to_10_latin_up_to_20():
    assert format_value("name1", "欧阳娜娜娜娜娜娜娜娜娜娜") == "欧阳娜娜娜娜娜娜娜娜"
    assert format_value("name1", "Alexandra Constantinople") == "Alexandra Constantin"
    assert accepted_by_wechat("name1", format_value("name1", "欧阳娜娜娜娜娜娜娜娜娜娜"))


def test_a_phone_number_keeps_digits_and_symbols_within_17():
    assert format_value("phone_number5", "+86 0571-8888 8888 转 123") == "+860571-888888881"


def test_a_car_number_within_8():
    assert format_value("car_number1", "粤A 8Z888 挂") == "粤A8Z888挂"


def test_no_value_is_a_format_error():
    with pytest.raises(FieldFormatError):
        format_value("thing1", None)


def test_an_unknown_key_type_is_treated_as_text_within_20():
    assert format_value("newtype1", "x" * 30) == "x" * 19 + "…"
