"""action_cancel_deadline_form: the candidate stopped the deadline form."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.state import DEADLINE_FORM_SLOTS


class ActionCancelDeadlineForm(Action):
    """Say it is cancelled and forget the half-filled form, so the next deadline
    question starts from the beginning."""

    def name(self) -> str:
        return "action_cancel_deadline_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response="utter_stop")
        return [SlotSet(name, None) for name in DEADLINE_FORM_SLOTS]
