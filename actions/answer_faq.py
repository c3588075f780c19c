"""action_answer_faq: answer from the knowledge base, or say honestly that we can't."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.faq import answer_turn
from bot.retrieval.embedding import TEXT_EMBEDDING_KEY


class ActionAnswerFaq(Action):
    """FAQ topics, low-confidence NLU, off-topic messages and region follow-ups; a
    deadline question answered in one turn, or handed to the deadline form."""

    def name(self) -> str:
        return "action_answer_faq"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        message = tracker.latest_message
        intent = message.get("intent") or {}
        turn = answer_turn(
            text=message.get("text") or "",
            intent=intent.get("name"),
            confidence=float(intent.get("confidence") or 0.0),
            place_slot=tracker.get_slot("place"),
            last_topic=tracker.get_slot("last_topic"),
            last_question=tracker.get_slot("last_question"),
            last_asked=tracker.get_slot("last_asked"),
            deadline_procedure=tracker.get_slot("deadline_procedure"),
            text_embedding=message.get(TEXT_EMBEDDING_KEY),
        )
        reply = turn.reply
        if reply is not None:
            dispatcher.utter_message(text=reply.text, buttons=reply.buttons,
                                     json_message=reply.custom)
        events: list[EventType] = [SlotSet(name, value) for name, value in turn.slots.items()]
        if turn.followup:
            events.append(FollowupAction(turn.followup))
        return events
