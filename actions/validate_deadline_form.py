"""validate_deadline_form: fill and check the deadline form's slots."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.dialogue import check_start_date, date_in, procedure_in


class ValidateDeadlineForm(FormValidationAction):
    """Procedure and start date from free text; a wrong date is asked again.

    Every message is read for both slots, so a candidate can correct the procedure
    while being asked for the date ("不对，是河南的预约邮寄")."""

    def name(self) -> str:
        return "validate_deadline_form"

    async def extract_procedure(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        procedure = procedure_in(tracker.latest_message.get("text") or "")
        return {"procedure": procedure} if procedure else {}

    async def extract_start_date(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        mention = date_in(tracker.latest_message.get("text") or "")
        if mention is None and tracker.get_slot("requested_slot") == "start_date":
            mention = tracker.latest_message.get("text") or ""
        return {"start_date": mention} if mention else {}

    def validate_start_date(self, value: Any, dispatcher: CollectingDispatcher,
                            tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        iso, prompt = check_start_date(str(value), tracker.get_slot("procedure"))
        if prompt:
            dispatcher.utter_message(text=prompt, json_message={"kind": "form_prompt", "sources": []})
        return {"start_date": iso}
