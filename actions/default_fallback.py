"""action_default_fallback: when no rule applies, fall back honestly."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.reading import latest_message
from bot.dialogue.replies import fallback_reply


class ActionDefaultFallback(Action):
    """Say what the assistant covers and where to get help; forget the turn."""

    def name(self) -> str:
        return "action_default_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        reply = fallback_reply().in_script(latest_message(tracker).traditional)
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons, json_message=reply.custom)
        return [UserUtteranceReverted()]
