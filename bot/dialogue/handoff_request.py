"""Whether a candidate's message asks for a person (转人工, 人工客服, 找真人, 我要投诉 …).

The phrases are data (``data/handoff/handoff.yml``, both scripts); a message asks for a
person when its matching form contains one of them and it is short: "人工审核要多久" is a
question for the assistant, not a request. The web front reads it before the message
reaches Rasa, so no model has to be retrained when staff add a phrase.
"""

from __future__ import annotations

from bot.datafiles import handoff_settings
from bot.lang.text import normalise

_CLOSING = "?？!！。.~～ ,，"


def request_phrases() -> tuple[str, ...]:
    """The phrases, in matching form (simplified script, lower case)."""
    return tuple(normalise(str(p)) for p in handoff_settings().get("request_phrases") or () if str(p).strip())


def asks_for_person(message: str) -> bool:
    """True when ``message`` is a short request to talk to a person."""
    form = normalise(message).strip(_CLOSING)
    limit = int(handoff_settings().get("request_max_chars", 20))
    if not form or len(form) > limit:
        return False
    return any(phrase in form for phrase in request_phrases())
