"""action_answer_faq: answer from the knowledge base, or say honestly that we can't."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.reading import latest_message, state_of
from bot.dialogue.faq import answer_turn


class ActionAnswerFaq(Action):
    """FAQ topics, low-confidence NLU, off-topic messages and region follow-ups; a
    deadline question answered in one turn, or handed to the deadline form."""

    def name(self) -> str:
        return "action_answer_faq"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        turn = answer_turn(latest_message(tracker), state_of(tracker))
        if turn.reply is not None:
            dispatcher.utter_message(text=turn.reply.text, buttons=turn.reply.buttons,
                                     json_message=turn.reply.custom)
        events: list[EventType] = [SlotSet(name, value) for name, value in turn.slots.items()]
        if turn.followup:
            events.append(FollowupAction(turn.followup))
        return events
