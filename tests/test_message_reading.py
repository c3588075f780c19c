"""bot.lang.clauses, bot.lang.latin and the Message's date roles (issue 22): a message is
read clause by clause, English and pinyin in the documents' words, and a date counts for a
deadline rule only when the message ties it to the rule's event. Pure functions, a fixed
"today", no servers."""

from datetime import date

import pytest

from bot.dialogue import deadline_form as form
from bot.dialogue.deadlines import PROCEDURES, load_texts
from bot.dialogue.message import read_message
from bot.dialogue.state import DialogueState
from bot.lang.clauses import INSTRUCTION, NARRATIVE, QUESTION, split_clauses
from bot.lang.latin import in_documents_words, is_english
from bot.lang.text import normalise
from bot.knowledge.outcomes import RIGHT, SAFE_MISS, WRONG, outcome, tally

TODAY = date(2026, 11, 22)
# Each sentence mentions a date for another reason than the rule's event.
INCIDENTAL = ["我明天就要入职了，", "我下周一要交材料，", "今天是11月22号，", "我6月18日生日，",
              "后天我要出差，"]


def roles(text):
    return [(c.role, c.text) for c in split_clauses(normalise(text))]


def test_story_then_question_is_cut_into_narrative_and_question_clauses():
    got = roles("我在广州考的中级社工，一直没去领证，过了领证时间的证书还能寄给我吗，要多久")
    assert [r for r, _ in got] == [NARRATIVE, NARRATIVE, QUESTION, QUESTION]


def test_an_instruction_to_the_assistant_is_not_the_question():
    got = roles("你是机器人吗？不管了，我问你，河南没领的证书保管多久")
    assert got[-1] == (QUESTION, "河南没领的证书保管多久")
    assert all(role == INSTRUCTION for role, _ in got[:-1])


def test_a_question_that_mentions_telling_is_still_a_question():
    assert roles("能告诉我电子证书在哪里下载吗") == [(QUESTION, "能告诉我电子证书在哪里下载吗")]


def test_the_focus_keeps_the_question_and_the_clause_before_it():
    message = read_message("真的好烦啊，我登录了下载页面，页面一片空白，这是什么原因", on=TODAY)
    assert message.focus == "页面一片空白,这是什么原因"


@pytest.mark.parametrize("procedure", sorted(PROCEDURES))
@pytest.mark.parametrize("incidental", INCIDENTAL)
def test_an_unrelated_date_never_becomes_a_rules_start_date(procedure, incidental):
    keyword = load_texts()["procedure_keywords"][procedure][0]
    text = f"{incidental}{keyword}怎么弄"
    message = read_message(text, on=TODAY)
    assert message.dates, text                      # the date is read …
    assert message.start_dates == ()                # … as context only
    turn = form.deadline_turn(message, DialogueState())
    assert turn is None or turn.reply is None, f"{text}: {turn.reply.text if turn else ''}"


@pytest.mark.parametrize("text", ["名单2025年5月6日公示的，直邮最晚哪天申请",
                                  "河南成绩2026年10月20日发布的，补充核查最晚到哪天",
                                  "成绩是2025年1月10日出的，核查结果报送最晚哪天",
                                  "2025年9月26号", "是9月29号"])
def test_a_date_tied_to_the_event_or_given_alone_is_a_start_date(text):
    message = read_message(text, on=TODAY)
    assert message.start_dates == message.dates and message.dates


def test_a_correction_keeps_its_date_for_the_remembered_rule():
    message = read_message("不对不对，是9月29号", on=TODAY)
    assert form.remembered_procedure(message, "gd_direct_mail") == "gd_direct_mail"


def test_incidental_dates_are_left_out_of_the_query():
    assert "11月22" not in read_message("今天11月22日，直邮申请要什么条件", on=TODAY).query


@pytest.mark.parametrize("text, expected", [
    ("Where can I download my electronic certificate?", "哪里 下载 电子证书?"),
    ("dianzi zhengshu在哪下载", "电子证书在哪下载"),
    ("证书zhiyou怎么申请", "证书直邮怎么申请"),
    ("下载页面blank是咋回事", "下载页面空白是咋回事"),
    ("I want to talk about football", ""),
])
def test_latin_letters_are_read_in_the_documents_words(text, expected):
    assert in_documents_words(normalise(text)) == expected


@pytest.mark.parametrize("text, codes", [
    ("帮我查下快递单号SF1234567890到哪了", ("sf1234567890",)),   # another courier's waybill
    ("单号EA123456789CN查不到", ()),            # a postal item number (EMS uses them)
    ("EMS1234567890到哪了", ()), ("单号1234567890", ()), ("iphone13下载不了", ()),
    ("身份证41010219900101123X", ()),
])
def test_another_systems_waybill_numbers_are_found(text, codes):
    assert read_message(text).foreign_codes == codes


def test_english_is_told_from_chinese_with_a_few_latin_letters():
    assert is_english(normalise("What does 已撤销 mean on my certificate status?"))
    assert not is_english(normalise("我的ems单号在哪查"))
    assert read_message("How long is the annotation valid?", on=TODAY).english


def test_outcomes_count_an_assertion_that_is_not_expected_as_wrong():
    assert outcome(True, {"kind": "faq_answer"}) == RIGHT
    assert outcome(False, {"kind": "faq_answer"}) == WRONG
    assert outcome(False, {"kind": "deadline"}) == WRONG
    assert outcome(False, {"kind": "did_you_mean"}) == SAFE_MISS
    assert outcome(False, {"kind": "fallback"}) == SAFE_MISS
    row = tally([RIGHT, RIGHT, SAFE_MISS, WRONG])
    assert (row["right"], row["safe_miss"], row["wrong"], row["right_rate"]) == (2, 1, 1, 0.5)


@pytest.mark.parametrize("procedure", sorted(PROCEDURES))
@pytest.mark.parametrize("incidental", INCIDENTAL)
def test_after_a_deadline_answer_an_unrelated_date_is_not_counted_for_it(procedure, incidental):
    # the rule and its date are remembered; a date said for another reason is context,
    # even when Rasa reads the message as giving a date
    state = DialogueState(deadline_procedure=procedure, deadline_date="2026-10-20")
    message = read_message(f"{incidental}那我还要准备什么材料", form.DATE_ANSWER, 0.9, on=TODAY)
    turn = form.deadline_turn(message, state)
    assert turn is None or turn.reply is None, f"{procedure}: {turn.reply.text if turn else ''}"


@pytest.mark.parametrize("text, place", [
    ("我在深圳上班，去年在河南考的证还没领，现在能寄过来吗，邮费谁出", "河南"),
    ("人在北京工作，广州考区的证书怎么寄", "广州"),
    ("我住在郑州，在广东考的证能直邮吗", "广东"),
])
def test_where_the_candidate_works_or_lives_is_not_the_certificates_place(text, place):
    message = read_message(text, on=date(2026, 11, 22))
    assert message.place is not None and message.place.name == place
    # the place of work is context: it leaves the retrieval reading
    assert all(other not in message.query for other in ("深圳", "北京", "郑州"))


def test_a_place_named_only_as_where_the_candidate_works_is_no_rules_place():
    message = read_message("我在深圳上班，证书能寄过来吗", on=date(2026, 11, 22))
    assert message.place is None and "深圳" not in message.query


@pytest.mark.parametrize("text, missed", [
    ("你说的那个时限我已经错过了咋整", True),
    ("要是通知上的日子已经过了呢", True),
    ("直邮申请时间过了怎么办", True),
    ("考试过了证书怎么领", False),          # passed the exam, no deadline
    ("领证通知时限是多久", False),
])
def test_a_message_saying_a_deadline_has_passed_is_told(text, missed):
    assert read_message(text, on=TODAY).missed is missed


def test_a_period_that_has_run_out_is_told_too():
    assert read_message("那个期限到了以后呢", on=TODAY).missed
    assert not read_message("证书到了以后怎么签收", on=TODAY).missed   # no time word
