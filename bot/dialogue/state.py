"""What a conversation remembers between turns (Rasa's slots) and what a turn leaves.

:class:`DialogueState` is read from the slots once per turn; :class:`Turn` is the
outcome the Rasa action turns into a message and slot events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from bot.dialogue.replies import Reply

# The deadline form's slots, cleared when it is answered or cancelled.
DEADLINE_FORM_SLOTS = ("procedure", "start_date", "date_problem")


@dataclass(frozen=True)
class DialogueState:
    """The slots of ``domain.yml`` a turn reads."""

    place: str | None = None                # the province or city said earlier
    last_topic: str | None = None           # the last answered entry's topic
    last_entry: str | None = None           # … and its id
    last_asked: str | None = None           # the candidate's own words for it
    deadline_procedure: str | None = None   # the deadline rule that answer computed or explained
    deadline_date: str | None = None        # the date it counted from (ISO)
    requested_slot: str | None = None       # what the deadline form is asking for
    procedure: str | None = None            # the deadline form's slots
    start_date: str | None = None
    date_problem: str | None = None

    @classmethod
    def from_slots(cls, slots: Mapping[str, Any]) -> DialogueState:
        """The state from a slot mapping (Rasa's tracker slots); unknown slots ignored,
        values that are not text read as unset."""
        return cls(**{f.name: slots.get(f.name) if isinstance(slots.get(f.name), str) else None
                      for f in fields(cls)})


@dataclass
class Turn:
    """A reply (None when another action answers), the slots to remember, and the
    action to run next (the deadline form), if any."""

    reply: Reply | None
    slots: dict[str, Any] = field(default_factory=dict)
    followup: str | None = None
