"""Every custom action with rasa_sdk's CollectingDispatcher, checking the messages and
the full list of events it returns. Uses the real index (make index)."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_faq import ActionAnswerFaq
from actions.ask_start_date import ActionAskStartDate
from actions.cancel_deadline_form import ActionCancelDeadlineForm
from actions.compute_deadline import ActionComputeDeadline
from actions.default_fallback import ActionDefaultFallback
from actions.show_contacts import ActionShowContacts
from actions.validate_deadline_form import ValidateDeadlineForm
from tests.conftest import run_async

DOMAIN: dict = {}



def tracker(text: str, intent: str = "nlu_fallback", confidence: float = 0.9, **slots) -> Tracker:
    return Tracker(
        sender_id="test", slots=slots, latest_message={
            "text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []},
        events=[], paused=False, followup_action=None, active_loop={}, latest_action_name=None,
    )


@pytest.fixture()
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def test_answer_faq_answers_with_source_buttons_and_slots(dispatcher):
    events = ActionAnswerFaq().run(dispatcher, tracker("电子证书在哪下载", "ask_ecert_download"), DOMAIN)
    [message] = dispatcher.messages
    assert message["custom"]["kind"] == "faq_answer"
    assert message["custom"]["entry_id"] == "ecert_where_download"
    assert "来源：" in message["text"] and "适用地区：全国" in message["text"]
    assert 1 <= len(message["buttons"]) <= 3
    assert events == [SlotSet("last_topic", "ask_ecert_download"),
                      SlotSet("last_entry", "ecert_where_download"),
                      SlotSet("last_asked", "电子证书在哪下载"),
                      SlotSet("deadline_procedure", None)]


def test_answer_faq_takes_the_embedding_rasa_passed_with_the_message(dispatcher):
    from bot.retrieval.engine import load_engine
    from bot.retrieval.embedding import pack_embedding

    engine = load_engine()
    text = "证书邮寄，要自己出钱吗？"
    query = engine.prepare(text)
    engine.query_cache.discard(query)
    # Rasa's vector is what the action reads: here, deliberately, another question's
    other = engine.encoder.encode([engine.prepare("电子证书在哪下载")])[0]
    message = tracker(text, "nlu_fallback", 0.45)
    message.latest_message["text_embedding"] = pack_embedding(query, other, engine.encoder.model_id)
    try:
        ActionAnswerFaq().run(dispatcher, message, DOMAIN)
        assert dispatcher.messages[0]["custom"].get("entry_id") == "ecert_where_download"
    finally:
        engine.query_cache.discard(query)
    honest = CollectingDispatcher()
    ActionAnswerFaq().run(honest, tracker(text, "nlu_fallback", 0.45), DOMAIN)
    assert honest.messages[0]["custom"].get("entry_id") != "ecert_where_download"


def test_answer_faq_remembers_the_deadline_rule_it_explained(dispatcher):
    events = ActionAnswerFaq().run(dispatcher, tracker("直邮申请有截止日期吗", "ask_application_deadline"),
                                   DOMAIN)
    assert dispatcher.messages[0]["custom"]["entry_id"] == "direct_mail_deadline"
    assert SlotSet("deadline_procedure", "gd_direct_mail") in events


def test_answer_faq_counts_a_later_date_for_the_remembered_rule(dispatcher):
    events = ActionAnswerFaq().run(dispatcher, tracker(
        "2024年9月27日", "inform_date", deadline_procedure="gd_direct_mail"), DOMAIN)
    assert dispatcher.messages[0]["custom"]["procedure"] == "gd_direct_mail"
    assert "2024年10月18日（星期五）" in dispatcher.messages[0]["text"]
    assert events == [SlotSet("deadline_procedure", "gd_direct_mail"),   # for a correction
                      SlotSet("deadline_date", "2024-09-27")]


def test_answer_faq_region_follow_up_re_asks_the_last_question(dispatcher):
    events = ActionAnswerFaq().run(dispatcher, tracker(
        "河南的呢？", "inform_region", last_topic="ask_fees",
        last_entry="gz_paper_mail_fee"), DOMAIN)
    assert dispatcher.messages[0]["custom"]["entry_id"] == "henan_mail_fee"
    assert events == [SlotSet("last_topic", "ask_fees"),
                      SlotSet("last_entry", "henan_mail_fee"),
                      SlotSet("last_asked", None), SlotSet("deadline_procedure", None),
                      SlotSet("place", "河南")]


def test_answer_faq_off_topic_falls_back_with_contacts(dispatcher):
    events = ActionAnswerFaq().run(dispatcher, tracker("红烧肉怎么做", "out_of_scope"), DOMAIN)
    assert dispatcher.messages[0]["custom"]["kind"] == "fallback"
    assert "18558892138" in dispatcher.messages[0]["text"]
    assert events == []


def test_answer_faq_rejects_empty_input(dispatcher):
    assert ActionAnswerFaq().run(dispatcher, tracker("   "), DOMAIN) == []
    assert dispatcher.messages[0]["custom"] == {"kind": "invalid_input", "reason": "empty"}


def test_answer_faq_one_turn_deadline(dispatcher):
    events = ActionAnswerFaq().run(dispatcher, tracker("名单2024年9月27日公示，直邮最晚哪天申请"), DOMAIN)
    assert "2024年10月18日（星期五）" in dispatcher.messages[0]["text"]
    assert events == [SlotSet("deadline_procedure", "gd_direct_mail"),
                      SlotSet("deadline_date", "2024-09-27")]


def test_show_contacts(dispatcher):
    assert ActionShowContacts().run(dispatcher, tracker("转人工", "ask_human"), DOMAIN) == []
    assert "0591-87571350" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["custom"]["kind"] == "contacts"


def test_default_fallback_reverts_the_turn(dispatcher):
    events = ActionDefaultFallback().run(dispatcher, tracker("???"), DOMAIN)
    assert events == [UserUtteranceReverted()]
    assert dispatcher.messages[0]["custom"]["kind"] == "fallback"


def test_ask_start_date_names_the_date_the_procedure_needs(dispatcher):
    assert ActionAskStartDate().run(dispatcher, tracker("x", procedure="henan_storage"), DOMAIN) == [
        SlotSet("date_problem", None)]
    assert "考试结束日期" in dispatcher.messages[0]["text"]


def test_compute_deadline_replies_and_clears_the_form_slots(dispatcher):
    events = ActionComputeDeadline().run(
        dispatcher, tracker("2024年9月27日", procedure="gd_direct_mail", start_date="2024-09-27"), DOMAIN)
    assert "2024年10月18日（星期五）" in dispatcher.messages[0]["text"]
    assert events == [SlotSet("procedure", None), SlotSet("start_date", None), SlotSet("date_problem", None),
                      SlotSet("deadline_procedure", "gd_direct_mail"),
                      SlotSet("deadline_date", "2024-09-27")]


def test_validate_form_extracts_and_checks(dispatcher):
    form = ValidateDeadlineForm()
    t = tracker("不对，是河南的预约邮寄，核查结果9月1号发布的", procedure="gd_direct_mail",
                requested_slot="start_date")
    assert run_async(form.extract_procedure(dispatcher, t, DOMAIN)) == {"procedure": "henan_mail_booking"}
    assert run_async(form.extract_start_date(dispatcher, t, DOMAIN)) == {"start_date": "9月1号"}
    bad = form.validate_start_date("2025年2月30日", dispatcher, tracker("x", procedure="gd_direct_mail"), DOMAIN)
    assert bad == {"start_date": None, "date_problem": "invalid_date"}
    assert dispatcher.messages == []            # action_ask_start_date explains it, once
    good = form.validate_start_date("2024-09-27", dispatcher, tracker("x", procedure="gd_direct_mail"), DOMAIN)
    assert good == {"start_date": "2024-09-27", "date_problem": None}
    assert form.validate_procedure("henan_storage", dispatcher, tracker("x"), DOMAIN) == {
        "procedure": "henan_storage"}
    # A date given before the procedure is checked again once it is (a date ahead is
    # fine: candidates ask ahead), and the emptied slot validated again keeps the reason.
    assert form.validate_procedure("gd_direct_mail", dispatcher, tracker("x", start_date="2099-01-01"),
                                   DOMAIN) == {"procedure": "gd_direct_mail", "start_date": "2099-01-01",
                                               "date_problem": None}
    assert form.validate_start_date(None, dispatcher, tracker("x", procedure="gd_direct_mail"),
                                    DOMAIN) == {"start_date": None}


def test_validate_form_takes_a_bare_date_for_the_remembered_rule(dispatcher):
    form = ValidateDeadlineForm()
    handed_over = tracker("2025年2月30日", "inform_date", deadline_procedure="gd_direct_mail")
    assert run_async(form.extract_procedure(dispatcher, handed_over, DOMAIN)) == {
        "procedure": "gd_direct_mail"}
    named = tracker("河南预约邮寄 2025年2月30日", "inform_date", deadline_procedure="gd_direct_mail")
    assert run_async(form.extract_procedure(dispatcher, named, DOMAIN)) == {
        "procedure": "henan_mail_booking"}
    assert run_async(form.extract_procedure(dispatcher, tracker("2025年2月30日", "inform_date"),
                                            DOMAIN)) == {}


def test_validate_form_leaves_a_cancel_to_the_cancel_rule(dispatcher):
    form = ValidateDeadlineForm()
    t = tracker("不算了", "stop", procedure="henan_storage", requested_slot="start_date")
    assert run_async(form.extract_start_date(dispatcher, t, DOMAIN)) == {}
    assert run_async(form.extract_procedure(dispatcher, t, DOMAIN)) == {}


def test_ask_start_date_after_a_wrong_date_says_what_was_wrong(dispatcher):
    events = ActionAskStartDate().run(
        dispatcher, tracker("2025年2月30日", procedure="gd_direct_mail", date_problem="invalid_date"), DOMAIN)
    assert events == [SlotSet("date_problem", None)]
    [message] = dispatcher.messages
    assert "不存在" in message["text"] and "全科合格人员名单公示日期" in message["text"]
    assert message["custom"]["kind"] == "form_prompt"


def test_cancel_deadline_form_says_so_and_forgets_the_form(dispatcher):
    events = ActionCancelDeadlineForm().run(dispatcher, tracker("不算了", "stop", procedure="henan_storage"), DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_stop"
    assert events == [SlotSet("procedure", None), SlotSet("start_date", None), SlotSet("date_problem", None)]


def test_answer_faq_hands_a_wrong_date_to_the_form(dispatcher):
    events = ActionAnswerFaq().run(dispatcher, tracker("直邮，名单2025年2月30日公示的，最晚哪天申请"), DOMAIN)
    assert dispatcher.messages == []
    assert events == [FollowupAction("deadline_form")]
