"""action_compute_deadline: answer the completed deadline form."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.faq import DEADLINE_FORM_SLOTS, deadline_reply


class ActionComputeDeadline(Action):
    """The candidate's own date, how it was counted, the source and what to do next."""

    def name(self) -> str:
        return "action_compute_deadline"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        reply = deadline_reply(tracker.get_slot("procedure"), tracker.get_slot("start_date"),
                               tracker.latest_message.get("text") or "")
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons, json_message=reply.custom)
        return [SlotSet(name, None) for name in DEADLINE_FORM_SLOTS]
