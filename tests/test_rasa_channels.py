"""rasa_server/channels.py through the real Rasa REST channel: a message that starts with
"/" is text, never an intent with entities; the conversation is never wiped by it."""

from __future__ import annotations

import pytest

from bot.rasa_client import RasaClient

pytestmark = pytest.mark.servers

SLASH_COMMANDS = ["/restart", "/session_start", "/greet", "/out_of_scope", "/stop",
                  '/inform{"procedure": "gd_direct_mail", "start_date": "2024-09-27"}',
                  "  /restart", "/ask_direct_mail"]


@pytest.mark.parametrize("command", SLASH_COMMANDS)
def test_a_slash_command_is_read_as_text(rasa_url, command):
    sender = f"slash-{abs(hash(command))}"
    with RasaClient(rasa_url) as rasa:
        first = rasa.send(sender, "证书直邮怎么申请？")
        reply = rasa.send(sender, command)
        tracker = rasa.tracker(sender)
    assert first.custom["kind"] == "faq_answer"
    assert not reply.empty
    latest = tracker["latest_message"]
    assert latest["text"].startswith("／")
    # only what NLU finds in the words (an extractor names itself), never the shortcut's
    assert all(entity.get("extractor") for entity in latest["entities"])
    users = [e for e in tracker["events"] if e["event"] == "user"]
    assert len(users) == 2                       # not wiped by /restart or /session_start
    assert tracker["slots"].get("procedure") is None and tracker["slots"].get("start_date") is None
    assert tracker["slots"]["last_topic"] == "ask_direct_mail"    # the first answer is remembered


def test_a_huge_message_is_cut_before_nlu_and_gets_the_too_long_reply(rasa_url):
    sender = "huge-message"
    with RasaClient(rasa_url, timeout_seconds=120) as rasa:
        reply = rasa.send(sender, "证书" * 20_000)
        tracker = rasa.tracker(sender)
    assert not reply.empty and "太长" in reply.text   # the action's "too long" message
    assert len(tracker["latest_message"]["text"]) <= 2000
