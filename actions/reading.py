"""What every action reads from Rasa's tracker: the latest message, read once
(:func:`bot.dialogue.message.read_message`), and the slots as a dialogue state."""

from __future__ import annotations

from rasa_sdk import Tracker

from bot.dialogue.message import Message, read_message
from bot.dialogue.state import DialogueState
from bot.retrieval.embedding import TEXT_EMBEDDING_KEY


def latest_message(tracker: Tracker) -> Message:
    """The latest user message with Rasa's intent, confidence and embedding."""
    message = tracker.latest_message or {}
    intent = message.get("intent") or {}
    return read_message(message.get("text") or "", intent.get("name"),
                        float(intent.get("confidence") or 0.0), message.get(TEXT_EMBEDDING_KEY))


def state_of(tracker: Tracker) -> DialogueState:
    """The conversation's slots."""
    return DialogueState.from_slots(tracker.slots)
