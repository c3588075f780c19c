"""action_ask_start_date: ask for the date the chosen procedure counts from."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.faq import start_date_prompt


class ActionAskStartDate(Action):
    """The deadline form's question for ``start_date``, worded for the procedure; after
    a wrong date it says what was wrong (one message, not an error plus a question)."""

    def name(self) -> str:
        return "action_ask_start_date"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        text = start_date_prompt(tracker.get_slot("procedure"),
                                 tracker.latest_message.get("text") or "",
                                 tracker.get_slot("date_problem"))
        dispatcher.utter_message(text=text, json_message={"kind": "form_prompt", "sources": []})
        return [SlotSet("date_problem", None)]
