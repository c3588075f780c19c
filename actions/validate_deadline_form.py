"""validate_deadline_form: fill and check the deadline form's slots."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.reading import latest_message, state_of
from bot.dialogue.deadline_form import (form_slots_for_date, form_slots_for_procedure,
                                        procedure_answer, start_date_answer)


class ValidateDeadlineForm(FormValidationAction):
    """Procedure and start date from free text; a wrong date is asked again.

    Every message is read for both slots, so a candidate can correct the procedure
    while being asked for the date ("不对，是河南的预约邮寄").  A wrong date leaves
    ``date_problem`` set; the next question for the date explains it.  A date the
    answer action handed over without a procedure is for the procedure the last FAQ
    answer explained (slot ``deadline_procedure``), if any.  A cancel or a
    digression (a question, a greeting, "转人工") fills nothing, so the form steps
    aside for its rule and asks again afterwards."""

    def name(self) -> str:
        return "validate_deadline_form"

    async def extract_procedure(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        procedure = procedure_answer(latest_message(tracker), state_of(tracker))
        return {"procedure": procedure} if procedure else {}

    async def extract_start_date(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        answer = start_date_answer(latest_message(tracker), state_of(tracker))
        return {"start_date": answer} if answer else {}

    def validate_procedure(self, value: Any, dispatcher: CollectingDispatcher,
                           tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        return form_slots_for_procedure(value, tracker.get_slot("start_date"))

    def validate_start_date(self, value: Any, dispatcher: CollectingDispatcher,
                            tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if value is None:
            # Rasa validates the slot again after it was emptied (a refused date,
            # or one refused for a newly named procedure): keep the reason.
            return {"start_date": None}
        return form_slots_for_date(str(value), tracker.get_slot("procedure"))
