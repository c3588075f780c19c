"""bot.dialogue.deadline_form: one-turn answers, hand-over to the form, and the form's
slot helpers.  Pure functions with a fixed "today" (no Rasa, no index).

Expected dates are worked out by hand (see tests/test_deadlines.py for the rules)."""

from datetime import date

import pytest

from bot.dialogue import deadline_form as form
from bot.dialogue.deadlines import entry_procedure, error_prompt, load_texts
from bot.dialogue.message import read_message
from bot.dialogue.state import DialogueState
from bot.lang.text import is_traditional

TODAY = date(2025, 10, 20)          # a Monday, as in the REST tests


class dialogue:  # noqa: N801 - reads like the module the cases were written against
    """The form's functions called as a Rasa action does: the message read once, the
    slots as the dialogue state."""

    DEADLINE_FORM = form.DEADLINE_FORM
    form_slots_for_date = staticmethod(form.form_slots_for_date)
    form_slots_for_procedure = staticmethod(form.form_slots_for_procedure)
    entry_procedure = staticmethod(entry_procedure)

    @staticmethod
    def deadline_turn(text, intent=None, on=TODAY, remembered=None):
        return form.deadline_turn(read_message(text, intent, on=on),
                                  DialogueState(deadline_procedure=remembered))

    @staticmethod
    def remembered_procedure(text, intent, remembered, on=TODAY):
        return form.remembered_procedure(read_message(text, intent, on=on), remembered)

    @staticmethod
    def procedure_answer(text, intent, asked, on=TODAY, remembered=None):
        return form.procedure_answer(read_message(text, intent, on=on),
                                     DialogueState(requested_slot=asked,
                                                   deadline_procedure=remembered))

    @staticmethod
    def start_date_answer(text, intent, asked, on=TODAY):
        return form.start_date_answer(read_message(text, intent, on=on),
                                      DialogueState(requested_slot=asked))

    @staticmethod
    def start_date_prompt(procedure, user_text="", problem=None):
        return form.start_date_prompt(read_message(user_text),
                                      DialogueState(procedure=procedure, date_problem=problem)).text

    @staticmethod
    def deadline_reply(procedure, start_iso, user_text="", on=TODAY):
        return form.deadline_reply(read_message(user_text, on=on),
                                   DialogueState(procedure=procedure, start_date=start_iso)).reply


# ------------------------------------------------------------------ one turn

def test_one_turn_answer_with_procedure_and_date():
    turn = dialogue.deadline_turn("广东的，名单2024年9月27日公示，直邮最晚哪天申请？", on=TODAY)
    assert turn is not None and turn.followup is None
    assert "2024年10月18日（星期五）" in turn.reply.text
    assert turn.reply.custom["kind"] == "deadline"
    assert turn.reply.custom["procedure"] == "gd_direct_mail"
    # One source per document, newest edition first, shaped like an FAQ answer's.
    assert [(s["passage_id"], s["date"], s["region"]) for s in turn.reply.custom["sources"]] == [
        ("gz-mail-faq-2025/p05", "2025年8月6日", "广东省"), ("gz-mail-faq-2024/p04", "2024年9月9日", "广东省")]
    assert all(s["title"] and s["issuer"] for s in turn.reply.custom["sources"])


def test_one_turn_answer_says_which_year_it_assumed():
    # 2025-09-27 (Sat): 9/28 make-up day, 9/29, 9/30, National Day 10/1-10/8 off,
    # 10/9, 10/10, 10/11 make-up Saturday, then 10/13-10/17 and 10/20 = the 12th.
    turn = dialogue.deadline_turn("直邮，名单9月27号公示的", on=TODAY)
    assert "2025年10月20日（星期一）" in turn.reply.text
    assert load_texts()["reply"]["status_today"] in turn.reply.text
    assert "没有写年份" in turn.reply.text


@pytest.mark.parametrize("text", [
    "直邮，名单2025年2月30日公示的，最晚哪天申请",     # no such day
    "河南补充核查，成绩13月5日发布",                     # no 13th month
])
def test_wrong_date_with_a_procedure_hands_over_to_the_form(text):
    turn = dialogue.deadline_turn(text, on=TODAY)
    assert turn.reply is None and turn.followup == dialogue.DEADLINE_FORM


def test_a_bare_date_starts_the_form_only_when_it_is_the_whole_point():
    assert dialogue.deadline_turn("2024年9月27日", "inform_date", on=TODAY).followup == "deadline_form"
    assert dialogue.deadline_turn("名单2024年9月27日公示的，最晚哪天？", "inform_date",
                                  on=TODAY).followup == "deadline_form"
    # a question with a date that names no procedure and no deadline is not a date answer
    assert dialogue.deadline_turn("今天上证指数收盘多少", "inform_date", on=TODAY) is None
    assert dialogue.deadline_turn("我9月1号寄的证书还没到", "ask_delivery_problem", on=TODAY) is None


def test_a_bare_date_after_a_deadline_answer_is_counted_for_its_rule():
    # Rasa reads "名单是9月27号公示的" as giving a date; the last answer explained the
    # direct-mail deadline, so the date is its publicity date.
    turn = dialogue.deadline_turn("名单是2024年9月27日公示的", "inform_date", on=TODAY,
                                  remembered="gd_direct_mail")
    assert turn.reply.custom["procedure"] == "gd_direct_mail"
    assert "2024年10月18日（星期五）" in turn.reply.text
    # A procedure the message names wins over the remembered one.
    named = dialogue.deadline_turn("河南预约邮寄，核查结果2025年4月1日发布", "inform_date", on=TODAY,
                                   remembered="gd_direct_mail")
    assert named.reply.custom["procedure"] == "henan_mail_booking"
    # A wrong date goes to the form, which takes the remembered rule at activation.
    wrong = dialogue.deadline_turn("2025年2月30日", "inform_date", on=TODAY, remembered="gd_direct_mail")
    assert wrong.reply is None and wrong.followup == dialogue.DEADLINE_FORM
    assert dialogue.procedure_answer("2025年2月30日", "inform_date", None, on=TODAY,
                                     remembered="gd_direct_mail") == "gd_direct_mail"


@pytest.mark.parametrize("text, intent", [
    ("我9月1号寄的证书还没到", "ask_delivery_problem"),   # a date, but not given as one
    ("直邮截止日是哪天", "inform_date"),                      # no date at all
])
def test_the_remembered_rule_needs_a_date_given_as_such(text, intent):
    turn = dialogue.deadline_turn(text, intent, on=TODAY, remembered="gd_direct_mail")
    assert turn is None or turn.reply is None
    assert dialogue.remembered_procedure(text, intent, "gd_direct_mail", on=TODAY) is None


def test_the_form_asks_the_procedure_after_a_bare_date_when_nothing_is_remembered():
    assert dialogue.procedure_answer("2024年9月27日", "inform_date", None, on=TODAY) is None
    assert dialogue.remembered_procedure("2024年9月27日", "inform_date", "no_such_rule", on=TODAY) is None
    # Only at activation: while the form asks, a date is an answer for the date.
    assert dialogue.procedure_answer("2024年9月27日", "inform_date", "procedure", on=TODAY,
                                     remembered="gd_direct_mail") is None


def test_entry_procedures_name_real_entries_and_rules():
    from bot.dialogue.deadlines import PROCEDURES
    from bot.knowledge.entries import load_knowledge_base
    from bot.retrieval.settings import load_settings

    settings = load_settings()
    entries = load_knowledge_base(settings.entries_dir, settings.sources_dir).by_id
    mapping = load_texts()["entry_procedures"]
    assert mapping and set(mapping) <= set(entries) and set(mapping.values()) <= set(PROCEDURES)
    assert dialogue.entry_procedure("direct_mail_deadline") == "gd_direct_mail"
    assert dialogue.entry_procedure("direct_mail_what") is None


def test_a_procedure_with_an_unreadable_date_starts_the_form():
    text = "名单2025年9月公示的，直邮最晚哪天"            # no day: not a date, but about one
    assert dialogue.deadline_turn(text, "inform_date", on=TODAY).followup == "deadline_form"
    assert dialogue.deadline_turn(text, "ask_application_deadline", on=TODAY).followup == "deadline_form"
    assert dialogue.deadline_turn("你好", "inform_date", on=TODAY) is None


@pytest.mark.parametrize("text", ["我的直邮申请最晚哪天", "帮我算算河南证书保管到哪天"])
def test_a_procedure_asked_about_ones_own_date_starts_the_form(text):
    assert dialogue.deadline_turn(text, "ask_application_deadline", on=TODAY).followup == "deadline_form"


def test_my_certificate_without_a_deadline_word_is_a_question():
    assert dialogue.deadline_turn("我的证书没加注也能下，正常吗", "ask_annotation", on=TODAY) is None


@pytest.mark.parametrize("text", ["证书直邮怎么申请？", "直邮要在公示后多少个工作日内申请", ""])
def test_no_date_is_not_a_deadline_turn(text):
    assert dialogue.deadline_turn(text, "ask_direct_mail", on=TODAY) is None


def test_traditional_question_gets_traditional_deadline():
    turn = dialogue.deadline_turn("廣東的，名單2024年9月27日公示，直郵最晚哪天申請？", on=TODAY)
    assert is_traditional(turn.reply.text)


# ------------------------------------------------------------------ form slots

@pytest.mark.parametrize("text, intent, asked, expected", [
    ("核查结果是4月1号出来的", "inform_date", "start_date", "4月1号"),
    ("核查结果是4月1号出来的", "inform_date", None, "4月1号"),                 # at activation
    ("还没公示呢", "ask_qualification_check", "start_date", "还没公示呢"),   # re-asked, not ignored
    ("我不知道是哪天", "ask_application_deadline", "start_date", "我不知道是哪天"),
    ("还没公示呢", "ask_qualification_check", "procedure", None),
    ("不算了", "stop", "start_date", None),                                   # the cancel rule's turn
    ("不对，是河南的预约邮寄", "inform_procedure", "start_date", None),        # only a new procedure
    ("在哪里看公示日期？", "ask_direct_mail", "start_date", None),             # a question first
    ("转人工", "ask_human", "start_date", None),
    ("谢谢，是9月27号", "thanks", "start_date", "9月27号"),                  # a date is an answer
    ("   ", "nlu_fallback", "start_date", None),
])
def test_start_date_answer(text, intent, asked, expected):
    assert dialogue.start_date_answer(text, intent, asked, on=TODAY) == expected


@pytest.mark.parametrize("text, intent, asked, expected", [
    ("證書直郵", "ask_direct_mail", "procedure", "gd_direct_mail"),
    ("不对，我要算河南补充资格核查", "ask_qualification_check", "start_date", "henan_supplementary_check"),
    ("我的直邮申请截止日是哪天", "ask_deadline", None, "gd_direct_mail"),     # activation reads all
    ("广州逾期证书什么时候寄出", "ask_paper_mailing", "procedure", "gz_paper_mail_dispatch"),
    ("直邮要多少钱？", "ask_fees", "start_date", None),                        # answered first
    ("电子证书加注有什么限制", "ask_annotation", "start_date", None),
    ("你好", "greet", "procedure", None),
])
def test_procedure_answer(text, intent, asked, expected):
    assert dialogue.procedure_answer(text, intent, asked, on=TODAY) == expected


@pytest.mark.parametrize("value, procedure, expected", [
    ("2025-04-01", "henan_mail_booking", {"start_date": "2025-04-01", "date_problem": None}),
    ("9月27号", "gd_direct_mail", {"start_date": "2025-09-27", "date_problem": None}),
    ("2025年2月30日", "gd_direct_mail", {"start_date": None, "date_problem": "invalid_date"}),
    ("明天", "gd_direct_mail", {"start_date": "2025-10-21", "date_problem": None}),  # ahead
    ("还没公示呢", "gd_direct_mail", {"start_date": None, "date_problem": "no_date"}),
    # An annotation can be planned: a future day is fine (so is any rule's, asked ahead).
    ("2025年11月3日", "ecert_annotation", {"start_date": "2025-11-03", "date_problem": None}),
    # Before the procedure is known the date is checked too ...
    ("2025年11月3日", None, {"start_date": "2025-11-03", "date_problem": None}),
])
def test_form_slots_for_date(value, procedure, expected):
    assert dialogue.form_slots_for_date(value, procedure, on=TODAY) == expected


def test_form_slots_for_procedure_checks_an_earlier_date_again():
    # ... and again once it is: a date ahead is fine for every rule (candidates ask ahead)
    assert dialogue.form_slots_for_procedure("gd_direct_mail", "2025-11-03", on=TODAY) == {
        "procedure": "gd_direct_mail", "start_date": "2025-11-03", "date_problem": None}
    assert dialogue.form_slots_for_procedure("gd_direct_mail", "2025-02-30", on=TODAY) == {
        "procedure": "gd_direct_mail", "start_date": None, "date_problem": "invalid_date"}
    assert dialogue.form_slots_for_procedure("ecert_annotation", "2025-11-03", on=TODAY) == {
        "procedure": "ecert_annotation", "start_date": "2025-11-03", "date_problem": None}
    assert dialogue.form_slots_for_procedure("henan_storage", None, on=TODAY) == {
        "procedure": "henan_storage"}
    assert dialogue.form_slots_for_procedure("no_such_rule", None, on=TODAY) == {"procedure": None}


def test_start_date_prompt_explains_the_problem_once():
    assert "考后核查结果发布日期" in dialogue.start_date_prompt("henan_mail_booking")
    prompt = dialogue.start_date_prompt("gd_direct_mail", "2025年2月30日", "invalid_date")
    assert prompt == error_prompt("invalid_date", "gd_direct_mail")
    assert is_traditional(dialogue.start_date_prompt("gd_direct_mail", "還沒公示呢", "no_date"))


def test_deadline_reply_mentions_an_assumed_year_only_when_the_answer_had_none():
    with_year = dialogue.deadline_reply("henan_mail_booking", "2025-04-01", "2025年4月1日", on=TODAY)
    # 4/1 + 30 days = 5/1, Labour Day (5/1-5/5) → 5/6 (art. 203).
    assert "2025年5月6日（星期二）" in with_year.text and "没有写年份" not in with_year.text
    without = dialogue.deadline_reply("henan_mail_booking", "2025-04-01", "4月1号", on=TODAY)
    assert "没有写年份" in without.text
    assert without.custom["kind"] == "deadline" and without.custom["procedure"] == "henan_mail_booking"
    [source] = without.custom["sources"]
    assert source["passage_id"] == "henan-check-issuance-2024/p08" and source["region"] == "河南省"
    assert "豫人社函〔2024〕25号" in source["title"] and source["date"] == "2024年1月24日"


def test_a_date_ahead_is_answered_in_one_turn_and_a_year_without_calendar_is_provisional():
    # 2026-12-15 (Tue) is 22 days ahead of 2026-11-23: computed, not refused. 12 working
    # days end in 2026 (12-31); 2027 has no official calendar yet in the data.
    ahead = dialogue.deadline_turn("广东2026年12月15日公示，直邮截止哪天", on=date(2026, 11, 23))
    assert ahead.reply.custom["procedure"] == "gd_direct_mail"
    assert "2026年12月31日（星期四）" in ahead.reply.text and "还有" in ahead.reply.text
    later = dialogue.deadline_turn("广东2026年12月25日公示，直邮截止哪天", on=date(2026, 11, 23))
    assert "估计" in later.reply.text and "2027" in later.reply.text   # provisional, says why


def test_a_correction_counts_the_remembered_rule_again():
    first = dialogue.deadline_turn("广东名单2025年5月8日公示，直邮最晚哪天", on=TODAY)
    assert first.slots == {"deadline_procedure": "gd_direct_mail", "deadline_date": "2025-05-08"}
    corrected = form.deadline_turn(read_message("说错了，公示日期是2025年5月9日", "ask_deadline", on=TODAY),
                                   DialogueState(**first.slots))
    assert corrected.reply.custom["procedure"] == "gd_direct_mail"
    assert corrected.slots["deadline_date"] == "2025-05-09"
    # a rule counted from another kind of date asks for that date ...
    other = form.deadline_turn(read_message("不对，是河南的预约邮寄", "inform_procedure", on=TODAY),
                               DialogueState(**first.slots))
    assert other.reply is None and other.followup == form.DEADLINE_FORM
    # ... one counted from the same kind is counted from the date said before
    henan = DialogueState(deadline_procedure="henan_supplementary_check", deadline_date="2025-06-03")
    same = form.deadline_turn(read_message("搞错了，我要算核查结果报送的截止日", on=TODAY), henan)
    assert same.reply.custom["procedure"] == "henan_check_report"
    assert same.slots["deadline_date"] == "2025-06-03"
    # a corrected day without a year keeps the year said before
    day = form.deadline_turn(read_message("不对不对，是9月29号", on=TODAY),
                             DialogueState(deadline_procedure="gd_direct_mail",
                                           deadline_date="2024-09-26"))
    assert day.slots["deadline_date"] == "2024-09-29"


@pytest.mark.parametrize("text", [
    # the date starts the rule's event, but the candidate asks about something else
    "昨天晚上我按网上的步骤申请了加注，选的本人调用，提交以后页面一直显示证书生成中，"
    "今天刷新了好多次还是这样，单位下午就要，这种情况是正常的吗还是我操作错了",
    "名单10月10日公示的，直邮要交什么材料",
])
def test_a_date_told_with_another_question_is_no_deadline_turn(text):
    assert dialogue.deadline_turn(text) is None


@pytest.mark.parametrize("text", [
    "名单10月10日公示的，直邮最晚啥时候申请",
    "河南没领的证书，考试2021年10月24日结束的，保管到啥时候",
    "我今天申请加注，多久会过期",
    "广州逾期没领的证书申请了邮寄，2025年1月10号审核的，哪周寄出",
])
def test_a_date_told_with_a_question_about_time_is_a_deadline_turn(text):
    turn = dialogue.deadline_turn(text)
    assert turn is not None and turn.reply is not None


def test_a_question_that_holds_the_date_asks_about_it():
    # after a deadline answer: the same rule counted from another day
    turn = dialogue.deadline_turn("要是12月18号公示呢", "inform_date", remembered="gd_direct_mail")
    assert turn is not None and turn.reply is not None
