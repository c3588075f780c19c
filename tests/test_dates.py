"""Reading Chinese dates: formats, inferred years, relative days, errors, odd input."""

import random
from datetime import date

import pytest

from bot.lang.dates import (ERRORS, FUTURE_DATE, INVALID_DATE, NO_DATE, extract_dates,
                       parse_date)

D = date
TODAY = D(2025, 1, 5)   # a Sunday; its week runs Monday 2024-12-30 .. Sunday 2025-01-05

# (text, expected date, year inferred)
FORMATS = [
    ("2024年3月8日", D(2024, 3, 8), False),
    ("2024年3月8号", D(2024, 3, 8), False),
    ("2024 年 3 月 8 日", D(2024, 3, 8), False),
    ("2024年03月08日", D(2024, 3, 8), False),
    ("24年3月8日", D(2024, 3, 8), False),
    ("2024年3月8", D(2024, 3, 8), False),
    ("２０２４年３月８日", D(2024, 3, 8), False),          # full-width digits
    ("2024-03-08", D(2024, 3, 8), False),
    ("2024/3/8", D(2024, 3, 8), False),
    ("2024.3.8", D(2024, 3, 8), False),
    ("２０２４／３／８", D(2024, 3, 8), False),
    ("２０２４－０３－０８", D(2024, 3, 8), False),
    ("3月8号", D(2024, 3, 8), True),
    ("3月8日", D(2024, 3, 8), True),
    ("3月8號", D(2024, 3, 8), True),                     # traditional 號
    ("3.8", D(2024, 3, 8), True),
    ("3/8", D(2024, 3, 8), True),
    ("３．８", D(2024, 3, 8), True),
    ("3.8号", D(2024, 3, 8), True),
    # Missing year: the most recent date on or before today, across the new year.
    ("1月5日", D(2025, 1, 5), True),                      # today counts as past
    ("1月6日", D(2025, 1, 6), True),   # tomorrow: a date just coming is this year's
    ("12月30日", D(2024, 12, 30), True),
    ("12/31", D(2024, 12, 31), True),
    ("2月29日", D(2024, 2, 29), True),                    # most recent leap day
    # Relative days.
    ("今天", D(2025, 1, 5), False),
    ("昨天", D(2025, 1, 4), False),
    ("前天", D(2025, 1, 3), False),
    ("大前天", D(2025, 1, 2), False),
    ("明天", D(2025, 1, 6), False),
    # Weeks start on Monday.
    ("本周一", D(2024, 12, 30), False),
    ("这周三", D(2025, 1, 1), False),
    ("这周日", D(2025, 1, 5), False),
    ("上周五", D(2024, 12, 27), False),
    ("上个星期五", D(2024, 12, 27), False),
    ("上礼拜天", D(2024, 12, 29), False),
    ("上週一", D(2024, 12, 23), False),
    ("上上周一", D(2024, 12, 16), False),
    ("下周一", D(2025, 1, 6), False),
]


@pytest.mark.parametrize("text, expected, inferred", FORMATS)
def test_formats(text, expected, inferred):
    parsed = parse_date(text, TODAY)
    assert parsed.ok, parsed
    assert parsed.value == expected
    assert parsed.year_inferred == inferred


@pytest.mark.parametrize("today, text, expected", [
    (D(2025, 3, 1), "2月29日", D(2024, 2, 29)),
    (D(2023, 3, 1), "2月29日", D(2020, 2, 29)),
    (D(2024, 2, 29), "2月29日", D(2024, 2, 29)),
    (D(2026, 1, 1), "12月31号", D(2025, 12, 31)),
    (D(2026, 1, 1), "1月1日", D(2026, 1, 1)),
    (D(2025, 1, 8), "上周五", D(2025, 1, 3)),      # Wednesday: last week's Friday
    (D(2025, 1, 8), "本周五", D(2025, 1, 10)),     # this week's Friday is still ahead
])
def test_inference_depends_on_today(today, text, expected):
    assert parse_date(text, today).value == expected


@pytest.mark.parametrize("text", [
    "2025年2月30日", "2023年2月29日", "13月1日", "2月30号", "0月5日", "4月31日",
    "2025-02-30", "2024/13/1", "1980年1月1日", "2200年1月1日", "2月30",
])
def test_invalid_dates(text):
    parsed = parse_date(text, TODAY)
    assert parsed.error == INVALID_DATE and parsed.value is None


@pytest.mark.parametrize("text", [
    "", "   ", "你好", "直邮最晚哪天申请？", "12个工作日", "3.5万元", "2.5倍", "成绩60分",
    "3.75", "45/60", "2024年", "2024年3月", "第3周", "周五",
])
def test_no_date(text):
    assert parse_date(text, TODAY).error == NO_DATE


@pytest.mark.parametrize("text, require_past, error", [
    ("2025年10月1日", True, FUTURE_DATE),
    ("2025年10月1日", False, None),
    ("明天", True, FUTURE_DATE),
    ("今天", True, None),                 # today counts as past
    ("下周一", True, FUTURE_DATE),
    ("12月30日", True, None),             # inferred years are never in the future
])
def test_future_dates(text, require_past, error):
    assert parse_date(text, TODAY, require_past=require_past).error == error


def test_future_date_keeps_the_value():
    parsed = parse_date("2025年10月1日", TODAY, require_past=True)
    assert parsed.value == D(2025, 10, 1) and not parsed.ok


# (sentence, [(matched text, date)])
SENTENCES = [
    ("广东的，名单2024年9月27日公示，直邮最晚哪天申请？", [("2024年9月27日", D(2024, 9, 27))]),
    ("名单２０２４年９月２７日公示", [("２０２４年９月２７日", D(2024, 9, 27))]),
    ("成绩是10月15号出的，现在还能补充核查吗", [("10月15号", D(2024, 10, 15))]),
    ("我2024.10.8审核通过的，什么时候寄", [("2024.10.8", D(2024, 10, 8))]),
    ("从3月1日到3月15日", [("3月1日", D(2024, 3, 1)), ("3月15日", D(2024, 3, 15))]),
    ("上周五公示的，12个工作日内申请", [("上周五", D(2024, 12, 27))]),
    ("考试费3.5万元，9/27公示", [("9/27", D(2024, 9, 27))]),
    ("9/27周五公示的", [("9/27", D(2024, 9, 27))]),
    ("体重2.5公斤", []),
    ("版本1.2.3发布于2024-01-02", [("2024-01-02", D(2024, 1, 2))]),
]


@pytest.mark.parametrize("sentence, expected", SENTENCES)
def test_extract_dates(sentence, expected):
    mentions = extract_dates(sentence, TODAY)
    assert [(m.text, m.value) for m in mentions] == expected
    for m in mentions:
        assert sentence[m.start:m.end] == m.text


def test_extract_reports_invalid_mentions():
    mentions = extract_dates("是2025年2月30日还是3月1日", TODAY)
    assert [(m.value, m.error) for m in mentions] == [(None, INVALID_DATE), (D(2024, 3, 1), None)]


def _odd_strings() -> list[str]:
    palette = list("0123456789０１２３年月日号號./-／－ 上本这下周星期礼拜天今明昨前大个") + [
        "\x00", "\x1b", "\u200b", "\ufeff", "\ud800", "😀", "👨‍👩‍👧", "\n", "\t", "㍻", "Ⅻ", "ß",
    ]
    rng = random.Random(20240927)
    fixed = [
        "", " ", "\x00" * 50, "😀" * 500, "年月日" * 1000, "9" * 10000, "2024年" * 2000,
        "3月" * 3000, "上上上上周五", "2024年13月45日", "99999999年1月1日", "0000-00-00",
        "1.1.1.1.1.1", "///...---", "\u202e2024年3月8日", "a" * 10000, "2" + "0" * 9999,
        "9999年12月31日", "12月" + "8" * 5000 + "日",
    ]
    generated = ["".join(rng.choice(palette) for _ in range(rng.randint(1, 300))) for _ in range(300)]
    return fixed + generated


def test_never_crashes_on_odd_strings():
    for text in _odd_strings():
        mentions = extract_dates(text, TODAY)
        for m in mentions:
            assert text[m.start:m.end] == m.text
            assert (m.value is None) == (m.error == INVALID_DATE)
        parsed = parse_date(text, TODAY, require_past=True)
        assert parsed.ok or parsed.error in ERRORS
        if parsed.ok:
            assert parsed.value <= TODAY


@pytest.mark.parametrize("value", [None, 42, b"2024-03-08"])
def test_non_strings_are_no_date(value):
    assert parse_date(value, TODAY).error == NO_DATE
