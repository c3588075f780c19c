"""Follow-ups read in the conversation's context (bot.dialogue.faq.answer_turn on the real
index): an elliptical message after an answered question, a province said earlier, and
the guards that keep context from overriding what the candidate actually said."""

import pytest

from bot.dialogue import faq
from bot.dialogue.message import read_message
from bot.dialogue.state import DialogueState
from bot.retrieval.engine import load_engine


def answer_turn(text, intent, confidence, place_slot=None, **slots):
    """One turn as the answer action takes it: the message read once, the slots."""
    return faq.answer_turn(read_message(text, intent, confidence),
                           DialogueState(place=place_slot, **slots))


@pytest.fixture(scope="module")
def question_of():
    engine = load_engine()
    return {entry.id: entry.question for entry in engine.kb.entries}


def entry_answered(turn):
    custom = turn.reply.custom
    return custom.get("entry_id") if custom.get("kind") == "faq_answer" else custom.get("kind")


@pytest.mark.parametrize("text, last, expected", [
    ("那要多少钱", "direct_mail_what", "direct_mail_fee"),      # alone: no answer
    ("那邮费呢", "henan_paper_booking", "henan_mail_fee"),       # alone: the direct-mail fee
    ("那显示有效呢", "status_revoked", "status_valid"),
])
def test_a_short_follow_up_is_read_after_the_last_question(question_of, text, last, expected):
    assert entry_answered(answer_turn(text, None, 0.0, last_entry=last)) == expected


def test_a_follow_up_is_read_after_the_candidates_own_words_too(question_of):
    # The candidate's own words ("电子证书加注是啥") are context as well as the entry's
    # long question ("什么是电子证书加注？为什么要加注？").
    first = answer_turn("电子证书加注是啥", "ask_annotation", 0.95)
    assert entry_answered(first) == "annotation_what"
    assert first.slots["last_asked"] == "电子证书加注是啥"
    follow_up = answer_turn("总共几次", "ask_annotation", 0.95, last_topic=first.slots["last_topic"],
                            last_entry=first.slots["last_entry"],
                            last_asked=first.slots["last_asked"])
    assert entry_answered(follow_up) == "annotation_limits"
    # After the entry alone, another point of its topic is accepted at a lower
    # confidence (follow_up margins: in_topic), so the long question no longer drowns it.
    without = answer_turn("总共几次", "ask_annotation", 0.95, last_entry="annotation_what")
    assert entry_answered(without) == "annotation_limits"
    # Read in context, "总共几次" says too little to be the context of the next one.
    assert follow_up.slots["last_asked"] is None


def test_a_short_question_rasa_gives_a_topic_is_read_after_the_last_question(question_of):
    turn = answer_turn("邮费多少", "ask_fees", 0.9, last_entry="gz_paper_how_apply")
    assert entry_answered(turn) == "gz_paper_mail_fee"


@pytest.mark.parametrize("text, last, expected", [("得多久", "gz_paper_how_apply", "gz_paper_apply_deadline"),
                                                 ("要交钱吗", "direct_mail_how", "direct_mail_fee")])
def test_a_question_rasa_calls_a_follow_up_is_read_after_the_last_question(question_of, text, last,
                                                                          expected):
    assert entry_answered(answer_turn(text, "ask_follow_up", 0.8, last_entry=last)) == expected
    # one Rasa confidently calls off-topic is read alone (and says too little)
    assert entry_answered(answer_turn(text, "out_of_scope", 0.9, last_entry=last)) == "fallback"


def test_an_unsure_off_topic_guess_that_retrieval_finds_in_domain_is_read_in_context(question_of):
    last = "henan_supplementary_check"
    alone = answer_turn("不去参加会怎样", None, 0.0)
    assert alone.reply.custom["kind"] == "did_you_mean"   # in the domain, but unclear alone
    turn = answer_turn("不去参加会怎样", "out_of_scope", 0.55, last_entry=last)
    assert entry_answered(turn) == "henan_missed_supplementary"
    assert entry_answered(answer_turn("不去参加会怎样", "out_of_scope", 0.9, last_entry=last)) == "fallback"


def test_an_unsure_off_topic_guess_does_not_borrow_the_last_topics_margin(question_of):
    # exam registration is not in the documents; read after Henan's check, the words
    # overlap the check's and the in-topic margin would answer with its process
    turn = answer_turn("河南二建报名啥时候开始", "out_of_scope", 0.51, place_slot="河南",
                       last_entry="henan_check_who", last_asked="河南考后资格核查是谁负责")
    assert entry_answered(turn) == "fallback"


@pytest.mark.parametrize("slots", [{}, {"last_entry": "ems_hotline",
                                      "last_asked": "直邮有问题找邮政哪个号码"}])
def test_another_couriers_parcel_is_not_answered_with_the_documents_tracking(slots):
    # alone a did-you-mean; neither the EMS answer before it nor the tracking topic Rasa
    # names makes it an answer about EMS or Guangzhou's tracking
    turn = answer_turn("帮我查下快递单号SF1234567890到哪了", "ask_tracking", 0.89, **slots)
    assert turn.reply.custom["kind"] in ("did_you_mean", "fallback")


def test_the_same_point_without_a_place_keeps_the_last_answers_region(question_of):
    # alone Guangdong's direct-mail tracking is the surer reading; after Guangzhou's fee
    # the context gives the region (Guangzhou's paper tracking), the words the point
    turn = answer_turn("寄出来以后怎么查到哪了", "ask_tracking", 0.65, place_slot="广州",
                       last_entry="gz_paper_mail_fee", last_asked="广州考区证书邮寄收费吗")
    assert entry_answered(turn) == "gz_paper_tracking"


def test_the_last_answer_is_not_repeated_to_a_message_that_asks_something_else(question_of):
    # read after the collection notice's question the notice is 0.99 again, but the words
    # neither point at it nor lean to it (0.10 alone): asked back with what it lists next
    turn = answer_turn("看到通知以后下一步咋弄", "ask_paper_mailing", 0.8, place_slot="广州",
                       last_entry="gz_collection_notice", last_asked="广州考区的领证通知去哪看")
    custom = turn.reply.custom
    assert custom["kind"] == "clarify"
    assert custom["candidates"][0] == "gz_paper_how_apply"
    assert "gz_collection_notice" not in custom["candidates"]


def test_context_does_not_override_what_the_message_says(question_of):
    turn = answer_turn("直邮怎么查物流", "ask_tracking", 0.9, last_entry="gz_paper_how_apply")
    assert entry_answered(turn) == "direct_mail_tracking"


def test_the_follow_up_reading_never_repeats_the_last_answer(question_of):
    turn = answer_turn("那怎么申请", "inform_region", 0.71, last_entry="direct_mail_what")
    assert entry_answered(turn) == "direct_mail_how"   # names no place: not a region follow-up


def test_a_province_said_earlier_helps_an_unanswered_question():
    assert entry_answered(answer_turn("证书没领会保管多久", None, 0.0, place_slot="河南")) == "henan_storage_period"


def test_a_province_said_earlier_gets_the_local_rule_the_nationwide_answer_points_to():
    # alone the nationwide overdue rule (0.82), which names Henan's storage period as its
    # related local rule; read for Henan that rule answers (0.55)
    turn = answer_turn("没领的话会一直放着吗", "ask_reissue", 0.5, place_slot="河南",
                       last_entry="henan_onsite_collection", last_asked="河南拿证去哪拿啊，不想邮寄")
    assert entry_answered(turn) == "henan_storage_period"


def test_a_province_said_earlier_does_not_settle_what_the_context_leans_against():
    # "河南：在哪约" alone is on-site collection (0.52); after Henan's fee the readings
    # lean to the booking platform (0.35): asked back, the booking platform first
    turn = answer_turn("在哪约", "ask_follow_up", 0.5, place_slot="河南", last_entry="henan_mail_fee",
                       last_asked="河南寄证书得自己出邮费吗")
    custom = turn.reply.custom
    assert custom["kind"] == "clarify"
    assert custom["candidates"][:2] == ["henan_paper_booking", "henan_onsite_collection"]


def test_a_province_said_earlier_does_not_displace_a_confident_nationwide_answer():
    turn = answer_turn("电子证书在哪里下载", "ask_ecert_download", 0.95, place_slot="河南")
    assert entry_answered(turn) == "ecert_where_download"


@pytest.mark.parametrize("text, intent", [("今天天气怎么样", None), ("社保怎么转移", "out_of_scope"),
                                          ("那今天天气怎么样", "out_of_scope"),
                                          ("那社保怎么转移", "out_of_scope")])
def test_off_topic_stays_off_topic_in_any_context(question_of, text, intent):
    turn = answer_turn(text, intent, 0.9 if intent else 0.3, place_slot="河南",
                       last_entry="henan_paper_booking")
    assert entry_answered(turn) == "fallback"



@pytest.mark.parametrize("first, then", [
    ("广州证书寄出了咋查物流", "河南的又咋查？"),
    ("广东的直邮证书怎么查物流", "那河南省的怎么查"),
])
def test_a_province_the_candidate_names_never_gets_another_provinces_rule(first, then):
    from bot.lang.regions import applies_to

    asked = answer_turn(first, None, 0.0)
    remembered = {k: v for k, v in asked.slots.items()
                  if k in ("last_entry", "last_topic", "last_question", "last_asked")}
    turn = answer_turn(then, None, 0.0, asked.slots.get("place"), **remembered)
    custom = turn.reply.custom
    if custom.get("kind") == "faq_answer":
        entry = load_engine().kb.by_id[custom["entry_id"]]
        assert applies_to(entry.region, "河南省"), (entry.id, entry.region)
    else:
        assert custom.get("kind") in ("fallback", "clarify"), custom


@pytest.mark.parametrize("last, last_asked, text, expected", [
    # the words name 有效 (0.63 alone), the pointer the revoked certificate: every reading
    # in context answers the revoked status, sure
    ("status_revoked", "证书状态显示已撤销是什么意思", "这样的证书还是有效的吗", "status_revoked"),
    ("status_revoked", "证书状态显示已撤销是什么意思", "那这本证书现在还算有效吗", "status_revoked"),
    # the pointer names the topic, the words the point, kept after the candidate's words
    ("annotation_what", "什么是电子证书加注", "它有次数限制吗", "annotation_limits"),
])
def test_a_reference_the_readings_in_context_settle_is_answered(last, last_asked, text, expected):
    turn = answer_turn(text, None, 0.0, last_entry=last, last_asked=last_asked)
    assert entry_answered(turn) == expected


def test_a_reference_the_words_agree_with_is_answered():
    # "那它和纸质版效力一样不" after the seals: the words and the context both say validity
    turn = answer_turn("那它和纸质版效力一样不", None, 0.0, last_entry="ecert_seals",
                       last_asked="电子证书上盖了几个章")
    assert entry_answered(turn) == "ecert_legal_validity"


def test_a_long_message_is_read_by_itself_after_an_answer():
    # a story with its own question: never a clarifying question about the last topic
    text = "我刚收到全科合格的短信，想把证书直接寄到家里，不想跑考试中心，请问在网上要怎么操作"
    after = answer_turn(text, None, 0.0, last_entry="annotation_limits", last_asked="加注一次能管多少天")
    alone = answer_turn(text, None, 0.0)
    assert after.reply.custom["kind"] == alone.reply.custom["kind"] != "clarify"
    assert entry_answered(after) == entry_answered(alone)


@pytest.mark.parametrize("last, last_asked, text", [
    ("gz_collection_notice", "广州考区的领证通知在哪里看", "你说的那个时限我已经错过了咋整"),
    # read two ways (the deadline again, direct mail's missed deadline): the time passed
    # is the one just answered
    ("gz_paper_apply_deadline", "广州考区纸质证书邮寄申请有截止时间吗", "要是那个时间我错过了呢"),
])
def test_a_deadline_the_candidate_says_has_passed_is_not_answered_with_the_deadline(
        last, last_asked, text):
    # the message says the time has passed: the rule for a late application, not the time
    turn = answer_turn(text, None, 0.0, last_entry=last, last_asked=last_asked)
    custom = turn.reply.custom
    assert entry_answered(turn) == "gz_paper_late_application", custom
