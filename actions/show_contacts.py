"""action_show_contacts: the help contacts named in the documents."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.reading import latest_message
from bot.dialogue.replies import contacts_reply


class ActionShowContacts(Action):
    """Answer "转人工" with who to call or visit, from data/faq/contacts.yml."""

    def name(self) -> str:
        return "action_show_contacts"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[EventType]:
        reply = contacts_reply().in_script(latest_message(tracker).traditional)
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons, json_message=reply.custom)
        return []
