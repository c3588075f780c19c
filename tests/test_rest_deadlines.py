"""Personalised deadlines over Rasa's REST channel: every rule in data/deadlines.yml,
in one turn and through the deadline form, with wrong dates, corrections and
cancellations.  Real action server, real Rasa, real SQLite tracker store (the
`servers` fixture); the servers' "today" is pinned to SERVERS_TODAY (2026-11-22, a Sunday).

Every expected date is worked out by hand from the documents' wording and the State
Council's holiday schedules (2024: National Day 10/1-10/7, make-up days 9/29 and
10/12; 端午 6/8-6/10.  2025: Spring Festival 1/28-2/4; Labour Day 5/1-5/5; 端午
5/31-6/2; National Day 10/1-10/8, make-up days 9/28 and 10/11), never by the code
under test."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest

from tests.conftest import SERVERS_TODAY, post_json

pytestmark = pytest.mark.servers

# A full date as the assistant must write it: 2024年10月18日（星期五）.
FORMATTED = r"\d{4}年\d{1,2}月\d{1,2}日（星期[一二三四五六日]）"
ANY_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
ESTIMATE_BANNER = "（以下为估计日期，仅供参考）"
START_NOT_COUNTED = "当日不计入"


@dataclass(frozen=True)
class Rule:
    """What every reply for a procedure must carry, checked by hand in the documents."""

    region: str                   # the region the rule applies to
    titles: tuple[str, ...]       # the documents cited
    next_step: str                # a phrase of what to do next
    date_label: str               # the date the form asks for
    counts_days: bool = True      # a counted period (the start day is not counted)


GD_MAIL_2025 = "专业技术人员职业资格考试证书邮寄常见问答（2025版）"
GD_MAIL_2024 = "专业技术人员职业资格考试证书邮寄常见问答（2024年版）"
HENAN_NOTICE = "关于进一步规范专业技术人员职业资格考试资格核查和资格证书发放工作的通知"
CPTA_FAQ = "职业资格证书常见问题解答（电子证书，中国人事考试网）"

RULES = {
    "gd_direct_mail": Rule("广东省", (GD_MAIL_2025, GD_MAIL_2024), "证书直邮", "全科合格人员名单公示日期"),
    # The dispatch week follows the calendar month: nothing is counted from the day.
    "gz_paper_mail_dispatch": Rule("广东省广州市", (GD_MAIL_2024,), "EMS", "邮寄申请审核日期",
                                   counts_days=False),
    "henan_check_report": Rule("河南省", (HENAN_NOTICE,), "考后资格核查结果公告", "考试成绩发布日期"),
    "henan_supplementary_check": Rule("河南省", (HENAN_NOTICE,), "补充资格核查", "考试成绩发布日期"),
    "henan_mail_booking": Rule("河南省", (HENAN_NOTICE,), "预约邮寄平台", "考后核查结果发布日期"),
    "henan_storage": Rule("河南省", (HENAN_NOTICE,), "领取证书", "考试结束日期"),
    "henan_publicity": Rule("河南省", (HENAN_NOTICE,), "公示期内", "公示开始日期"),
    "ecert_annotation": Rule("全国", (CPTA_FAQ,), "证书生成中", "申请加注日期"),
    "ecert_download_estimate": Rule("全国", (CPTA_FAQ,), "中国人事考试网", "成绩公布日期"),
}


@dataclass
class Turn:
    text: str                     # every text message of the reply, joined
    custom: dict                  # the last structured part
    messages: list                # the raw REST messages


def say(rasa_url: str, sender: str, message: str) -> Turn:
    status, messages = post_json(f"{rasa_url}/webhooks/rest/webhook",
                                 {"sender": sender, "message": message})
    assert status == 200, messages
    texts = [m["text"] for m in messages if m.get("text")]
    customs = [m["custom"] for m in messages if m.get("custom")]
    return Turn("\n".join(texts), customs[-1] if customs else {}, messages)


def conversation(rasa_url: str, *messages: str) -> list[Turn]:
    sender = uuid.uuid4().hex
    return [say(rasa_url, sender, message) for message in messages]


def assert_deadline(turn: Turn, procedure: str, expected: list[str], *,
                    estimate: bool = False) -> None:
    """A computed deadline: the right rule and dates, every date of the answer in the
    YYYY年M月D日（星期X） format (only the documents' own dates in the source line are
    plain), the start day not counted, the source, and what to do next."""
    rule = RULES[procedure]
    assert turn.custom.get("kind") == "deadline", turn.text
    assert turn.custom.get("procedure") == procedure, turn.custom
    for phrase in expected:
        assert phrase in turn.text, (phrase, turn.text)
    lines = turn.text.splitlines()
    [source] = [line for line in lines if line.startswith("依据：")]
    for line in lines:
        if line is not source:
            plain = [m.group() for m in ANY_DATE.finditer(line)
                     if not re.match(FORMATTED, line[m.start():])]
            assert plain == [], line
    assert rule.region in source and all(title in source for title in rule.titles), source
    # The structured sources (docs/CONTRACTS.md) name the same documents and passages.
    sources = turn.custom.get("sources") or []
    assert len(sources) == len(rule.titles), sources
    assert all(title in s["title"] for title, s in zip(rule.titles, sources)), sources
    # passage ids are for the staff console, never in the candidate's text
    assert all(s["passage_id"] and s["passage_id"] not in turn.text and s["region"] == rule.region
               for s in sources), sources
    [next_step] = [line for line in lines if line.startswith("下一步：")]
    assert rule.next_step in next_step
    if rule.counts_days:
        assert START_NOT_COUNTED in turn.text
    assert (ESTIMATE_BANNER in turn.text) == estimate


def assert_asks_again(turn: Turn, label: str, *, why: str | None = None) -> None:
    """A request to re-enter the date: one message, naming the date needed (and what
    was wrong), with no date made up."""
    assert turn.custom.get("kind") == "form_prompt", turn.text
    assert len([m for m in turn.messages if m.get("text")]) == 1, turn.messages
    assert label in turn.text
    if why:
        assert why in turn.text
    assert not re.search(FORMATTED, turn.text), turn.text
    assert "Traceback" not in turn.text


# ---------------------------------------------------------------- one turn

# (procedure, message as a candidate would type it, expected phrases, estimate)
ONE_TURN = [
    ("gd_direct_mail", "广东的，名单2024年9月27日公示，直邮最晚哪天申请？",
     # 9/29 make-up day = 1st, 9/30 = 2nd, National Day off, 10/8-10/11 = 3rd-6th,
     # 10/12 make-up Saturday = 7th, 10/14-10/18 = 8th-12th.
     ["2024年10月18日（星期五）", "2024年9月29日（星期日）", "2024年10月12日（星期六）", "已过去765天"],
     False),
    ("gd_direct_mail", "直邮申请截止是哪天？名单9月27号公示的",
     # 2026-09-27 (no year: the latest one): 9/28-9/30 = 1st-3rd, National Day 10/1-10/7
     # off, 10/8, 10/9, 10/10 make-up Saturday = 6th, 10/12-10/16, 10/19 = 12th.
     ["2026年10月19日（星期一）", "没有写年份", "已过去34天"], False),
    ("gz_paper_mail_dispatch", "广州考区往年证书申请邮寄，2025年9月10日审核通过的，什么时候寄出？",
     # Reviewed by the 20th: the last 7 days of September.
     ["2025年9月24日（星期三）至2025年9月30日（星期二）"], False),
    ("gz_paper_mail_dispatch", "广州逾期没领的证书申请了邮寄，2025年1月10号审核的，哪周寄出",
     ["2025年1月25日（星期六）至2025年1月31日（星期五）", "春节"], False),
    ("henan_check_report", "河南的考试成绩2024年9月20日发布，资格核查结果报送最晚哪天",
     # 9/20 + 15 days = 10/5, in the National Day holiday → 10/8 (art. 203).
     ["2024年10月8日（星期二）", "第二百零三条"], False),
    ("henan_supplementary_check", "河南成绩2025年3月31日发布，补充资格核查最晚到哪天？",
     # Two months: 5/31, first day of 端午 (5/31-6/2) → 6/3.
     ["2025年6月3日（星期二）", "端午节"], False),
    ("henan_mail_booking", "河南考后核查结果2025年4月1日发布，证书预约邮寄最晚哪天？",
     # 30 days: 5/1, Labour Day (5/1-5/5) → 5/6.
     ["2025年5月6日（星期二）", "劳动节"], False),
    ("henan_storage", "我在河南考的，2021年5月30日考完，证书一直没领取，会保管到什么时候？",
     # Five years: 2026-05-30, a Saturday → Monday 6/1; 174 days before 2026-11-22.
     ["2026年6月1日（星期一）", "2026年5月30日（星期六）", "已过去174天"], False),
    ("henan_publicity", "河南成绩合格人员公示从2025年9月24日开始，公示期到哪天结束",
     # At least 10 days: 10/4, inside National Day (10/1-10/8) → 10/9.
     ["2025年10月9日（星期四）", "国庆节"], False),
    ("ecert_annotation", "我准备2025年10月20日申请电子证书加注，最长有效到哪天？",
     # Done within 24 hours; valid at most 90 days from the next day: 2026-01-18.
     ["2025年10月21日（星期二）", "2026年1月18日（星期日）"], False),
    ("ecert_download_estimate", "一建成绩2025年1月31日公布的，电子证书什么时候可以下载？",
     # About a month: no 31 February → 2/28 (an estimate, not moved).
     ["2025年2月28日（星期五）"], True),
]


@pytest.mark.parametrize("procedure, message, expected, estimate", ONE_TURN,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(ONE_TURN)])
def test_one_turn(rasa_url, procedure, message, expected, estimate):
    [turn] = conversation(rasa_url, message)
    assert_deadline(turn, procedure, expected, estimate=estimate)


def test_every_rule_is_covered_in_one_turn_and_through_the_form():
    assert {case[0] for case in ONE_TURN} == set(RULES)
    assert {case[0] for case in FORM} == set(RULES)


def test_one_turn_request_to_compute_completes_the_form_at_once(rasa_url):
    [turn] = conversation(rasa_url, "帮我算一下直邮截止日期，名单2024年9月27日公示的")
    assert_deadline(turn, "gd_direct_mail", ["2024年10月18日（星期五）"])


def test_a_one_turn_answer_leaves_nothing_for_the_next_form(rasa_url):
    first, second = conversation(rasa_url, "广东的，名单2024年9月27日公示，直邮最晚哪天申请？",
                                 "帮我算一下截止日期")
    assert first.custom.get("kind") == "deadline"
    assert "哪一项期限" in second.text and second.custom.get("kind") != "deadline"


# ---------------------------------------------------------------- calendar years

def test_year_after_the_official_calendar_is_a_labelled_estimate(rasa_url):
    # 2022-09-18 + 5 years = 2027-09-18, a Saturday; 2027's schedule is not published,
    # so only the weekend moves it: Monday 2027-09-20, labelled an estimate.
    [turn] = conversation(rasa_url, "河南考区2022年9月18日考完的，没领取的证书保管到哪天")
    assert_deadline(turn, "henan_storage", ["2027年9月20日（星期一）", "2027年的国务院办公厅节假日安排尚未收录"],
                    estimate=True)


def test_year_before_the_official_calendar_is_a_labelled_estimate(rasa_url):
    # 2003 is before the schedules the assistant has (2004 on): weekends only,
    # 2003-06-02 (Monday) + 12 working days = 2003-06-18 (Wednesday).
    [turn] = conversation(rasa_url, "名单2003年6月2日公示的，直邮最晚哪天申请")
    assert_deadline(turn, "gd_direct_mail", ["2003年6月18日（星期三）", "早于已收录"], estimate=True)
    assert "尚未公布" not in turn.text


# ---------------------------------------------------------------- the form

# (procedure, how the candidate names it, the date as typed, expected phrases, estimate)
FORM = [
    ("gd_direct_mail", "广东证书直邮", "2024-09-27", ["2024年10月18日（星期五）"], False),
    ("gz_paper_mail_dispatch", "广州逾期证书什么时候寄出", "2025年9月25号",
     # After the 20th: the last 7 days of October.
     ["2025年10月25日（星期六）至2025年10月31日（星期五）"], False),
    ("henan_check_report", "河南资格核查结果报送", "2024年9月20日", ["2024年10月8日（星期二）"], False),
    ("henan_supplementary_check", "补充资格核查", "2024年12月31日",
     # Two months: no 31 February → the 28th (art. 202), a Friday before no holiday.
     ["2025年2月28日（星期五）", "第二百零二条"], False),
    ("henan_mail_booking", "河南预约邮寄", "3月1号",
     # 2026-03-01 (no year: the latest one) + 30 days = 3/31, a Tuesday.
     ["2026年3月31日（星期二）", "没有写年份"], False),
    ("henan_storage", "证书保管期限", "2024年2月29日",
     # Five years from a leap day: 2029-02-28 (art. 202), a Wednesday; 2029 has no
     # official schedule yet, so it is an estimate.
     ["2029年2月28日（星期三）", "2029年的国务院办公厅节假日安排尚未收录"], True),
    ("henan_publicity", "河南成绩公示期", "2024-06-03",
     # 6/3 + 10 days = 6/13, a Thursday after 端午 (6/8-6/10).
     ["2024年6月13日（星期四）"], False),
    ("ecert_annotation", "电子证书加注", "2025年11月3日",
     # An annotation can be planned ahead: ready by 11/4, valid at most to 2026-02-01.
     ["2025年11月4日（星期二）", "2026年2月1日（星期日）"], False),
    ("ecert_download_estimate", "估算电子证书下载时间", "2024年9月27日",
     # About a month: 10/27, a Sunday, not moved (an estimate, not a legal period).
     ["2024年10月27日（星期日）"], True),
]


@pytest.mark.parametrize("procedure, name, typed, expected, estimate", FORM,
                         ids=[case[0] for case in FORM])
def test_form_asks_the_procedure_then_the_date(rasa_url, procedure, name, typed, expected, estimate):
    ask_procedure, ask_date, answer = conversation(rasa_url, "能帮我算算我的截止日子吗", name, typed)
    assert "哪一项期限" in ask_procedure.text
    buttons = [b for m in ask_procedure.messages for b in m.get("buttons", [])]
    assert len(buttons) == len(RULES)
    assert ask_date.custom.get("kind") == "form_prompt"
    assert RULES[procedure].date_label in ask_date.text
    assert_deadline(answer, procedure, expected, estimate=estimate)


def test_form_with_the_buttons(rasa_url):
    sender = uuid.uuid4().hex
    ask = say(rasa_url, sender, "帮我算一下截止日期")
    buttons = {b["title"]: b["payload"] for m in ask.messages for b in m.get("buttons", [])}
    ask_date = say(rasa_url, sender, buttons["计算河南纸质证书预约邮寄期"])
    assert "考后核查结果发布日期" in ask_date.text
    assert_deadline(say(rasa_url, sender, "2025年4月1日"), "henan_mail_booking", ["2025年5月6日（星期二）"])


def test_form_correcting_the_procedure(rasa_url):
    _, ask_annotation, ask_booking, answer = conversation(
        rasa_url, "帮我算算截止日期", "算加注那个", "不对，是河南的预约邮寄", "2025年4月1日")
    assert "申请加注日期" in ask_annotation.text
    # A new procedure is not a wrong date: just the question for the new one.
    assert ask_booking.custom.get("kind") == "form_prompt"
    assert "考后核查结果发布日期" in ask_booking.text and "没有看到日期" not in ask_booking.text
    assert_deadline(answer, "henan_mail_booking", ["2025年5月6日（星期二）"])


def test_form_correcting_the_procedure_and_giving_the_date_at_once(rasa_url):
    *_, answer = conversation(rasa_url, "帮我算一下截止日期", "计算广东证书直邮申请截止日",
                              "不对，是河南的预约邮寄，核查结果2025年4月1日发布的")
    assert_deadline(answer, "henan_mail_booking", ["2025年5月6日（星期二）"])


def test_form_with_procedure_named_up_front_asks_only_the_date(rasa_url):
    ask_date, answer = conversation(rasa_url, "我的直邮申请截止日是哪天", "上周五")
    assert "全科合格人员名单公示日期" in ask_date.text
    # 上周五 on Sunday 2026-11-22 = 11/13 (weeks start on Monday): 11/16-11/20,
    # 11/23-11/27, 11/30, 12/1 = the 12th working day.
    assert_deadline(answer, "gd_direct_mail", ["2026年11月13日（星期五）", "2026年12月1日（星期二）"])


# ---------------------------------------------------------------- wrong dates

def test_form_wrong_dates_are_asked_again(rasa_url):
    turns = conversation(rasa_url, "帮我算一下截止日期", "计算广东证书直邮申请截止日",
                         "2025年2月30日", "还没公示呢", "2025年2月28日")
    label = RULES["gd_direct_mail"].date_label
    assert_asks_again(turns[2], label, why="不存在")
    assert_asks_again(turns[3], label, why="没有看到日期")
    # 2025-02-28 (Fri) + 12 working days: 3/3-3/7, 3/10-3/14, 3/17, 3/18.
    assert_deadline(turns[4], "gd_direct_mail", ["2025年3月18日（星期二）"])


# Dates ahead (issue 16): candidates ask before the list is published; "today" is the
# servers' pinned 2026-11-22 (a Sunday).
@pytest.mark.parametrize("messages, expected", [
    (("名单2026年12月1日公示，直邮最晚哪天申请？",), ["2026年12月17日（星期四）", "距今天还有25天"]),
    (("帮我算一下截止日期", "计算广东证书直邮申请截止日", "2026年12月1日"), ["2026年12月17日（星期四）"]),
    # 明天 = 2026-11-23 (Mon) + 12 working days: 11/24-11/27, 11/30-12/4, 12/7-12/9
    (("帮我算一下截止日期", "计算广东证书直邮申请截止日", "明天"), ["2026年12月9日（星期三）"]),
    # a date given before the procedure: 12/3 (Thu) + 12: 12/4, 12/7-12/11, 12/14-12/18, 12/21
    (("2026年12月3日", "广东证书直邮"), ["2026年12月21日（星期一）"]),
])
def test_a_date_ahead_is_counted_from(rasa_url, messages, expected):
    *_, answer = conversation(rasa_url, *messages)
    assert_deadline(answer, "gd_direct_mail", expected)
    assert "还有" in answer.text and "已过去" not in answer.text


def test_one_turn_impossible_date_is_asked_again_then_answered(rasa_url):
    wrong, answer = conversation(rasa_url, "直邮，名单2025年2月30日公示的，最晚哪天申请？", "2025年2月28日")
    assert_asks_again(wrong, RULES["gd_direct_mail"].date_label, why="不存在")
    assert_deadline(answer, "gd_direct_mail", ["2025年3月18日（星期二）"])


def test_one_turn_without_a_readable_date_asks_for_it(rasa_url):
    # "2025年9月" has no day: the assistant asks for the date instead of guessing one.
    ask, answer = conversation(rasa_url, "名单2025年9月公示的，直邮最晚哪天", "9月27号")
    assert ask.custom.get("kind") == "form_prompt", ask.text
    assert RULES["gd_direct_mail"].date_label in ask.text and not re.search(FORMATTED, ask.text)
    assert_deadline(answer, "gd_direct_mail", ["2026年10月19日（星期一）"])


def test_a_bare_date_asks_which_procedure(rasa_url):
    ask, answer = conversation(rasa_url, "2024年9月27日", "直邮")
    assert "哪一项期限" in ask.text
    assert_deadline(answer, "gd_direct_mail", ["2024年10月18日（星期五）"])


# ---------------------------------------------------------------- cancelling

@pytest.mark.parametrize("messages", [
    ("帮我算一下截止日期", "算了"),
    ("帮我算一下截止日期", "计算河南证书保管到期日", "不算了"),
    ("帮我算一下截止日期", "计算河南证书保管到期日", "2025年2月30日", "算了不用了"),
])
def test_cancel_the_form_and_start_afresh(rasa_url, messages):
    *_, cancelled, again = conversation(rasa_url, *messages, "帮我算一下截止日期")
    assert "取消" in cancelled.text and not re.search(FORMATTED, cancelled.text)
    # The cancelled form is forgotten: the next one asks for the procedure again.
    assert "哪一项期限" in again.text


# ---------------------------------------------------------------- digressions

def test_a_question_while_the_form_asks_is_answered_then_the_form_asks_again(rasa_url):
    *_, answered, answer = conversation(rasa_url, "帮我算一下截止日期", "计算电子证书加注有效期",
                                        "电子证书加注有什么限制", "2025年11月3日")
    kinds = [m["custom"]["kind"] for m in answered.messages if m.get("custom")]
    assert kinds[0] in {"faq_answer", "did_you_mean"} and kinds[-1] == "form_prompt", kinds
    assert "申请加注日期" in answered.text and "没有看到日期" not in answered.text
    assert_deadline(answer, "ecert_annotation", ["2025年11月4日（星期二）"])


def test_asking_for_a_human_while_the_form_asks(rasa_url):
    *_, contacts, answer = conversation(rasa_url, "帮我算一下截止日期", "计算河南证书保管到期日",
                                        "转人工", "2021年5月30日")
    kinds = [m["custom"]["kind"] for m in contacts.messages if m.get("custom")]
    assert kinds == ["contacts", "form_prompt"], contacts.messages
    assert_deadline(answer, "henan_storage", ["2026年6月1日（星期一）"])
