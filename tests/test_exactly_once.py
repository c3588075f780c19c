"""Exactly-once turns (rasa_server/exactly_once.py) through the real Rasa and web front: a
turn sent again with its id is answered from the stored reply and stored once; the same
words with a new id are a new turn."""

from __future__ import annotations

import concurrent.futures
import uuid

import pytest

from bot.rasa_client import RasaClient
from tests.conftest import post_json

pytestmark = pytest.mark.servers

QUESTION = "证书直邮怎么申请？"


def user_events(tracker: dict) -> list[dict]:
    return [e for e in tracker["events"] if e["event"] == "user"]


def test_a_retried_turn_is_answered_from_the_stored_reply_and_stored_once(rasa_url):
    sender = f"once-{uuid.uuid4().hex[:8]}"
    with RasaClient(rasa_url) as rasa:
        first = rasa.send(sender, QUESTION, message_id="turn-1")
        retried = rasa.send(sender, QUESTION, message_id="turn-1")
        tracker = rasa.tracker(sender)
    assert first.custom["kind"] == "faq_answer"
    assert retried == first                       # the very reply, buttons and custom too
    users = user_events(tracker)
    assert [u["message_id"] for u in users] == ["turn-1"]
    assert sum(e["event"] == "bot" for e in tracker["events"]) == len(first.messages)


def test_the_same_words_with_a_new_id_are_a_new_turn(rasa_url):
    sender = f"once-{uuid.uuid4().hex[:8]}"
    with RasaClient(rasa_url) as rasa:
        rasa.send(sender, QUESTION, message_id="turn-a")
        again = rasa.send(sender, QUESTION, message_id="turn-b")
        plain = rasa.send(sender, QUESTION)       # no id: Rasa's own, never found
        tracker = rasa.tracker(sender)
    assert again.custom["kind"] == "faq_answer" and plain.custom["kind"] == "faq_answer"
    ids = [u["message_id"] for u in user_events(tracker)]
    assert ids[:2] == ["turn-a", "turn-b"] and len(ids) == 3 and ids[2] not in ids[:2]


def test_concurrent_copies_of_a_turn_run_it_once(rasa_url):
    """Copies sent at once (WeChat's retries, a cluster's two instances) wait for the
    conversation's lock; the first runs the turn, the others get its stored reply."""
    sender = f"once-{uuid.uuid4().hex[:8]}"

    def send() -> object:
        with RasaClient(rasa_url) as rasa:
            return rasa.send(sender, QUESTION, message_id="same-turn")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: send(), range(4)))
    with RasaClient(rasa_url) as rasa:
        tracker = rasa.tracker(sender)
    assert all(reply == replies[0] for reply in replies)
    assert len(user_events(tracker)) == 1


def test_the_web_front_passes_the_widgets_message_id(web_url, rasa_url):
    session = f"web-once-{uuid.uuid4().hex[:8]}"
    body = {"session_id": session, "message": QUESTION, "message_id": "widget-turn-1"}
    status, first = post_json(f"{web_url}/api/chat", body)
    status_again, again = post_json(f"{web_url}/api/chat", body)
    assert status == status_again == 200
    assert again["messages"][0]["text"] == first["messages"][0]["text"]
    with RasaClient(rasa_url) as rasa:
        users = user_events(rasa.tracker(session))
    assert [u["message_id"] for u in users] == ["widget-turn-1"]
