"""action_compute_deadline: answer the completed deadline form."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.reading import latest_message, state_of
from bot.dialogue.deadline_form import deadline_reply
from bot.dialogue.state import DEADLINE_FORM_SLOTS


class ActionComputeDeadline(Action):
    """The candidate's own date, how it was counted, the source and what to do next."""

    def name(self) -> str:
        return "action_compute_deadline"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        turn = deadline_reply(latest_message(tracker), state_of(tracker))
        dispatcher.utter_message(text=turn.reply.text, buttons=turn.reply.buttons,
                                 json_message=turn.reply.custom)
        return ([SlotSet(name, None) for name in DEADLINE_FORM_SLOTS]
                + [SlotSet(name, value) for name, value in turn.slots.items()])
