"""Deadline rules, the registry, guessing and the rendered reply.

Expected dates are worked out by hand from the official holiday schedules (listed
in tests/test_workdays.py) and the documents' wording, not by running the code.
"""

import ast
import re
from datetime import date

import pytest

from bot import PROJECT_ROOT
from bot.dialogue import deadlines as dl
from bot.dialogue.deadline_replies import deadline_reply, render
from bot.dialogue.message import read_message
from bot.dialogue.replies import format_date
from bot.knowledge.corpus import load_documents
from bot.lang.dates import ERRORS, first_date, parse_date
from bot.lang.regions import rule_region_named, rule_regions
from bot.lang.text import normalise

D = date
TODAY = D(2024, 10, 1)


# (function, input, expected deadline, calendar covered, estimate)
RULE_CASES = [
    (dl.direct_mail_deadline, D(2024, 9, 27), D(2024, 10, 18), True, False),
    (dl.direct_mail_deadline, D(2025, 1, 24), D(2025, 2, 17), True, False),
    (dl.direct_mail_deadline, D(2026, 4, 29), D(2026, 5, 19), True, False),
    (dl.direct_mail_deadline, D(2027, 3, 1), D(2027, 3, 17), False, True),
    # 15 days: 9/20 + 15 = 10/5, inside National Day 2024 → 10/8 (art. 203).
    (dl.henan_check_report_deadline, D(2024, 9, 20), D(2024, 10, 8), True, False),
    (dl.henan_check_report_deadline, D(2024, 6, 3), D(2024, 6, 18), True, False),
    # Two months: no 31 February → 2025-02-28 (Friday).
    (dl.henan_supplementary_deadline, D(2024, 12, 31), D(2025, 2, 28), True, False),
    # 2025-05-31 is the first day of 端午 (5/31–6/2) → 6/3.
    (dl.henan_supplementary_deadline, D(2025, 3, 31), D(2025, 6, 3), True, False),
    # 30 days: 4/1 + 30 = 5/1, Labour Day 2025 (5/1–5/5) → 5/6.
    (dl.henan_booking_deadline, D(2025, 4, 1), D(2025, 5, 6), True, False),
    # 2026-01-14 + 30 = 2026-02-13, a Friday before the Spring Festival block.
    (dl.henan_booking_deadline, D(2026, 1, 14), D(2026, 2, 13), True, False),
    # Five years from a leap day: 2029-02-28, and 2029 has no official schedule yet.
    (dl.henan_storage_end, D(2024, 2, 29), D(2029, 2, 28), False, True),
    # 10 days: 2025-09-24 + 10 = 10/4, inside the 2025 block (10/1–10/8) → 10/9.
    (dl.henan_publicity_end, D(2025, 9, 24), D(2025, 10, 9), True, False),
    (dl.henan_publicity_end, D(2024, 6, 3), D(2024, 6, 13), True, False),
    # About a month (estimate, no holiday shift): 2025-01-31 → 2025-02-28.
    (dl.ecert_download_estimate, D(2025, 1, 31), D(2025, 2, 28), True, True),
    # 2024-10-27 is a Sunday; an estimate is not moved.
    (dl.ecert_download_estimate, D(2024, 9, 27), D(2024, 10, 27), True, True),
]


@pytest.mark.parametrize("func, day, expected, covered, estimate", RULE_CASES)
def test_rules(func, day, expected, covered, estimate):
    result = func(day, today=TODAY)
    assert result.deadline == expected
    assert result.input_date == day
    assert result.calendar_covered == covered
    assert result.estimate == estimate
    procedure = dl.PROCEDURES[result.procedure_id]
    assert result.sources == procedure.sources and result.region == procedure.region


# Guangzhou paper mail: (reviewed, dispatch week first day, last day)
PAPER_MAIL_CASES = [
    (D(2024, 5, 20), D(2024, 5, 25), D(2024, 5, 31)),    # the 20th itself: this month
    (D(2024, 5, 21), D(2024, 6, 24), D(2024, 6, 30)),    # the 21st: next month (30 days)
    (D(2024, 5, 1), D(2024, 5, 25), D(2024, 5, 31)),
    (D(2024, 2, 20), D(2024, 2, 23), D(2024, 2, 29)),    # leap February
    (D(2025, 2, 20), D(2025, 2, 22), D(2025, 2, 28)),
    (D(2024, 1, 31), D(2024, 2, 23), D(2024, 2, 29)),    # 31 January → February
    (D(2024, 12, 21), D(2025, 1, 25), D(2025, 1, 31)),   # across the new year
    (D(2024, 9, 10), D(2024, 9, 24), D(2024, 9, 30)),
]


@pytest.mark.parametrize("reviewed, first, last", PAPER_MAIL_CASES)
def test_paper_mail_dispatch_week(reviewed, first, last):
    result = dl.paper_mail_dispatch(reviewed, today=TODAY)
    assert result.window == (first, last)
    assert result.deadline == last
    assert "gz_twentieth_inclusive" in result.notes and "gz_rule_2024_only" in result.notes


def test_paper_mail_week_with_spring_festival_is_flagged():
    result = dl.paper_mail_dispatch(D(2025, 1, 10), today=TODAY)
    holidays = [(s.date, s.end, s.names) for s in result.steps if s.kind == "holiday_in_window"]
    assert holidays == [(D(2025, 1, 28), D(2025, 1, 31), ("Spring Festival",))]


def test_paper_mail_in_uncovered_year():
    result = dl.paper_mail_dispatch(D(2026, 12, 25), today=TODAY)
    assert result.window == (D(2027, 1, 25), D(2027, 1, 31))
    assert not result.calendar_covered
    assert "estimate_uncovered" in result.notes


# Annotation: (application, previous, allowed, remaining, next slot, counted)
ANNOTATION_CASES = [
    (D(2024, 5, 1), [], True, 2, D(2024, 5, 1), []),
    # Window for 5/1 is 2/2..5/1 (90 days incl. 5/1; 2024 is a leap year).
    (D(2024, 5, 1), [D(2024, 2, 2), D(2024, 3, 1), D(2024, 4, 1)], False, 0, D(2024, 5, 2),
     [D(2024, 2, 2), D(2024, 3, 1), D(2024, 4, 1)]),
    # 2/1 is 90 days back: outside. 3/1, 4/1 and this one fill the window;
    # the next frees 90 days after 3/1 = 5/30.
    (D(2024, 5, 1), [D(2024, 2, 1), D(2024, 3, 1), D(2024, 4, 1)], True, 0, D(2024, 5, 30),
     [D(2024, 3, 1), D(2024, 4, 1)]),
    (D(2024, 5, 1), [D(2024, 4, 1), D(2024, 4, 15)], True, 0, D(2024, 6, 30),
     [D(2024, 4, 1), D(2024, 4, 15)]),
    # A "previous" date after the application cannot count.
    (D(2024, 5, 1), [D(2024, 6, 1)], True, 2, D(2024, 5, 1), []),
    # Four in the window: the second-oldest must drop out: 3/10 + 90 = 6/8.
    (D(2024, 5, 1), [D(2024, 3, 1), D(2024, 3, 10), D(2024, 4, 1), D(2024, 4, 20)], False, 0,
     D(2024, 6, 8), [D(2024, 3, 1), D(2024, 3, 10), D(2024, 4, 1), D(2024, 4, 20)]),
]


@pytest.mark.parametrize("application, previous, allowed, remaining, next_slot, counted",
                         ANNOTATION_CASES)
def test_annotation_window(application, previous, allowed, remaining, next_slot, counted):
    result = dl.annotation_window(application, previous, today=TODAY)
    d = result.details
    assert d["allowed"] == allowed
    assert d["remaining"] == remaining
    assert d["next_slot"] == next_slot
    assert list(d["counted"]) == counted
    assert result.deadline == (d["ready_by"] if allowed else next_slot)


def test_annotation_dates():
    d = dl.annotation_window(D(2024, 5, 1), today=TODAY).details
    assert d["ready_by"] == D(2024, 5, 2)          # within 24 hours
    assert d["valid_until"] == D(2024, 7, 30)      # 90 days, application day not counted


@pytest.mark.parametrize("previous", [
    [D(2024, 2, 2), D(2024, 3, 1), D(2024, 4, 1)],
    [D(2024, 3, 1), D(2024, 3, 10), D(2024, 4, 1), D(2024, 4, 20)],
])
def test_annotation_next_slot_is_the_first_allowed_day(previous):
    blocked = dl.annotation_window(D(2024, 5, 1), previous, today=TODAY)
    slot = blocked.details["next_slot"]
    assert dl.annotation_window(slot, previous, today=TODAY).details["allowed"]
    day_before = D.fromordinal(slot.toordinal() - 1)
    assert not dl.annotation_window(day_before, previous, today=TODAY).details["allowed"]


# ------------------------------------------------------------------ registry & data

EXPECTED_IDS = {
    "gd_direct_mail", "gz_paper_mail_dispatch", "henan_check_report", "henan_supplementary_check",
    "henan_mail_booking", "henan_storage", "henan_publicity", "ecert_annotation",
    "ecert_download_estimate",
}


def test_registry_ids_and_sources_exist():
    assert set(dl.PROCEDURES) == EXPECTED_IDS
    assert set(dl.load_texts()["procedures"]) == EXPECTED_IDS   # regression cases read these
    passages = {p.id for doc in load_documents().values() for p in doc.passages}
    texts = dl.load_texts()
    for pid, procedure in dl.PROCEDURES.items():
        assert procedure.id == pid
        assert procedure.sources and set(procedure.sources) <= passages, pid
        assert procedure.region in rule_regions()
        assert set(texts["procedures"][pid]) >= {"name", "date_label", "next_step"}
        assert pid in texts["procedure_keywords"]


def test_sources_say_what_the_rules_claim():
    passages = {p.id: p.text_simplified for doc in load_documents().values() for p in doc.passages}
    assert "12个工作日" in passages["gz-mail-faq-2025/p05"]
    assert "12个工作日" in passages["gz-mail-faq-2024/p04"]
    assert "每月20日前" in passages["gz-mail-faq-2024/p09"]
    assert not any("每月20日" in text for pid, text in passages.items()
                   if pid.startswith("gz-mail-faq-2025/"))
    assert "15日内" in passages["henan-check-issuance-2024/p05"]
    assert "不少于10天" in passages["henan-check-issuance-2024/p05"]
    assert "两个月内" in passages["henan-check-issuance-2024/p06"]
    assert "30天内" in passages["henan-check-issuance-2024/p08"]
    assert "5年" in passages["henan-check-issuance-2024/p09"]
    assert "3次有效加注" in passages["cpta-ecert-faq-2023/p09"]
    assert "24小时" in passages["cpta-ecert-faq-2023/p16"]
    assert "一个月左右" in passages["cpta-ecert-faq-2023/p01"]


@pytest.mark.parametrize("error", list(ERRORS))
def test_error_prompts(error):
    prompt = dl.error_prompt(error, "gd_direct_mail")
    assert dl.date_label("gd_direct_mail") in prompt


_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("module", ["bot/dialogue/deadlines.py", "bot/lang/workdays.py"])
def test_no_user_facing_chinese_in_code(module):
    tree = ast.parse((PROJECT_ROOT / module).read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    literals = [node.value for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings]
    assert [s for s in literals if _CJK.search(s)] == []


# ------------------------------------------------------------------ guessing

@pytest.mark.parametrize("text, expected", [
    ("广东的，名单2024年9月27日公示，直邮最晚哪天申请？", "gd_direct_mail"),
    ("公示之日起12个工作日内是哪天", "gd_direct_mail"),
    ("證書直郵什麼時候截止", "gd_direct_mail"),
    ("电子证书加注多久能好", "ecert_annotation"),
    ("河南没领取的证书保管多久", "henan_storage"),
    ("补充核查什么时候截止", "henan_supplementary_check"),
    ("核查不合格想申辩", "henan_supplementary_check"),
    ("预约邮寄的时间是多久", "henan_mail_booking"),
    ("我是往年证书，申请邮寄什么时候寄出", "gz_paper_mail_dispatch"),
    ("每月20日后审核的什么时候寄", "gz_paper_mail_dispatch"),
    ("河南公示期多久", "henan_publicity"),
    ("电子证书什么时候可以下载", "ecert_download_estimate"),
    ("今天天气不错", None),
    ("", None),
])
def test_guess_procedure(text, expected):
    assert dl.guess_procedure(normalise(text)) == expected


@pytest.mark.parametrize("text, expected", [
    ("广州考区的证书", "广东省广州市"),
    ("广东省的直邮", "广东省"),
    ("我在深圳考的", "广东省"),
    ("河南的证书", "河南省"),
    ("郑州考区", "河南省"),
    ("中国人事考试网下载", "全国"),
    ("随便问问", None),
])
def test_the_rule_region_a_question_names(text, expected):
    assert rule_region_named(normalise(text)) == expected


# ------------------------------------------------------------------ rendering

def test_render_direct_mail():
    text = render(dl.direct_mail_deadline(D(2024, 9, 27), today=TODAY))
    assert "2024年10月18日（星期五）" in text
    assert "2024年9月29日（星期日）" in text and "2024年10月12日（星期六）" in text   # make-up days
    assert "国庆节" in text and "第二百零一条" in text
    assert "广东省" in text
    assert load_documents()["gz-mail-faq-2025"].title in text
    assert "gz-mail-faq-2024/p04" not in text                # passage ids are for staff:
    reply = deadline_reply(dl.direct_mail_deadline(D(2024, 9, 27), today=TODAY))
    assert "gz-mail-faq-2025/p05" in [s["passage_id"] for s in reply.custom["sources"]]
    assert reply.custom["answer"].startswith("名单于2024年9月27日")   # the answer first,
    assert "第二百零一条" in "\n".join(reply.custom["details"]["lines"])  # the counting folded
    assert "第二百零一条" not in reply.custom["answer"] and "依据" not in reply.custom["answer"]
    assert "还有17天" in text                     # 2024-10-01 → 2024-10-18


def test_render_uncovered_year_says_so():
    text = render(dl.direct_mail_deadline(D(2027, 3, 1), today=TODAY))
    assert "2027年3月17日（星期三）" in text
    assert "2027年" in text and "估计" in text


def test_render_year_before_the_calendar_says_it_is_history_not_pending():
    # 2003 has no official schedule in the data (it starts in 2004): weekends only,
    # 2003-06-02 (Mon) + 12 working days = 2003-06-18 (Wed), labelled an estimate.
    result = dl.direct_mail_deadline(D(2003, 6, 2), today=TODAY)
    assert result.deadline == D(2003, 6, 18) and result.estimate and not result.calendar_covered
    assert "estimate_before_calendar" in result.notes and "estimate_uncovered" not in result.notes
    text = render(result)
    assert "（以下为估计日期，仅供参考）" in text and "早于已收录" in text and "自2004年起" in text
    assert "尚未公布" not in text and "公布后重新确认" not in text


def test_render_art203_shift():
    text = render(dl.henan_check_report_deadline(D(2024, 9, 20), today=TODAY))
    assert "2024年10月5日（星期六）" in text and "2024年10月8日（星期二）" in text
    assert "第二百零三条" in text and "河南省" in text


def test_render_paper_mail_window():
    text = render(dl.paper_mail_dispatch(D(2024, 5, 20), today=TODAY))
    assert "2024年5月25日（星期六）" in text and "2024年5月31日（星期五）" in text
    assert "20日当天" in text and "最后7个自然日" in text and "2025年版" in text


@pytest.mark.parametrize("previous, phrase", [
    ([], "2024年7月30日（星期二）"),
    ([D(2024, 2, 2), D(2024, 3, 1), D(2024, 4, 1)], "2024年5月2日（星期四）"),
])
def test_render_annotation(previous, phrase):
    text = render(dl.annotation_window(D(2024, 5, 1), previous, today=TODAY))
    assert phrase in text and "《职业资格证书常见问题解答" in text


@pytest.mark.parametrize("pid", sorted(EXPECTED_IDS))
def test_render_every_procedure(pid):
    result = dl.compute(pid, D(2025, 6, 10), today=D(2025, 6, 30))
    text = render(result)
    assert format_date(result.deadline, weekday=True) in text
    assert result.region in rule_regions() and result.region in text
    assert dl.procedure_name(pid) in text


@pytest.mark.parametrize("day, expected", [
    (D(2024, 10, 18), "2024年10月18日（星期五）"),
    (D(2025, 1, 5), "2025年1月5日（星期日）"),
    (D(2024, 2, 29), "2024年2月29日（星期四）"),
])
def test_format_date(day, expected):
    assert format_date(day, weekday=True) == expected


def reply_for(text, today, procedure_id=None):
    """What the deadline form ends with after the message, turn by turn: the computed
    reply, or the prompt to re-enter."""
    message = read_message(text, on=today)
    procedure_id = procedure_id or message.procedure
    if procedure_id is None:
        return dl.error_prompt("unknown_procedure")
    parsed = first_date(message.dates, today)
    if not parsed.ok:
        return dl.error_prompt(parsed.error, procedure_id)
    return render(dl.compute(procedure_id, parsed.value, today=today), parsed=parsed)


@pytest.mark.parametrize("text, today, phrase", [
    ("广东的，名单2024年9月27日公示，直邮最晚哪天申请？", TODAY, "2024年10月18日（星期五）"),
    ("直邮，名单9月27日公示", D(2025, 1, 5), "没有写年份"),
    ("直邮，名单2025年2月30日公示", TODAY, dl.error_prompt("invalid_date", "gd_direct_mail")),
    ("直邮，名单2025年9月27日公示", TODAY, "2025年10月20日（星期一）"),   # asked ahead: computed
    ("直邮什么时候截止", TODAY, dl.error_prompt("no_date", "gd_direct_mail")),
    ("2024年9月27日", TODAY, dl.error_prompt("unknown_procedure")),
])
def test_reply_for(text, today, phrase):
    assert phrase in reply_for(text, today=today)


def test_parsed_date_year_inferred_feeds_render():
    parsed = parse_date("9月27日", D(2025, 1, 5))
    text = render(dl.direct_mail_deadline(parsed.value, today=D(2025, 1, 5)), parsed=parsed)
    assert "2024年9月27日（星期五）" in text and "没有写年份" in text


@pytest.mark.parametrize("text", ["", "😀" * 300, "\x00\x1b加注", "直邮" + "9" * 5000, "保管 9999年1月1日",
                                  "河南 补充核查 2100年12月31日", "直郵 ２０２４年２月３０日"])
@pytest.mark.parametrize("pid", [None, "gd_direct_mail", "henan_storage"])
def test_reply_for_never_crashes(text, pid):
    reply = reply_for(text, today=TODAY, procedure_id=pid)
    assert isinstance(reply, str) and reply
