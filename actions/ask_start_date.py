"""action_ask_start_date: ask for the date the chosen procedure counts from."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.reading import latest_message, state_of
from bot.dialogue.deadline_form import start_date_prompt


class ActionAskStartDate(Action):
    """The deadline form's question for ``start_date``, worded for the procedure; after
    a wrong date it says what was wrong (one message, not an error plus a question)."""

    def name(self) -> str:
        return "action_ask_start_date"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        reply = start_date_prompt(latest_message(tracker), state_of(tracker))
        dispatcher.utter_message(text=reply.text, json_message=reply.custom)
        return [SlotSet("date_problem", None)]
