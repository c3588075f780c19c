"""The REST channel the web front and the tools talk to, with every message taken as text.

Rasa reads a message that starts with ``/`` as an intent with entities (``/restart``
wipes the conversation, ``/inform{"procedure": ...}`` sets slots). A candidate who types
``/restart`` means the words; this channel replaces the leading slash by its full-width
form (``／``) before Rasa sees the message, so no channel the project exposes lets text
reach the intent shortcut. Registered in credentials.yml under Rasa's own name ``rest``
(the webhook stays ``/webhooks/rest/webhook``).
"""

from __future__ import annotations

from typing import Any, Optional, Text

from rasa.core.channels.rest import RestInput
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from sanic.request import Request

FULL_WIDTH_SLASH = "\uff0f"


def as_text(message: Any) -> Optional[Text]:
    """The message with a leading ``/`` (after any blanks) made full-width; other
    values unchanged (Rasa's own checks handle a missing or non-text message)."""
    if not isinstance(message, str):
        return message
    stripped = message.lstrip()
    if stripped.startswith(INTENT_MESSAGE_PREFIX):
        return FULL_WIDTH_SLASH + stripped[len(INTENT_MESSAGE_PREFIX):]
    return message


class TextOnlyRestInput(RestInput):
    """Rasa's REST channel, except that a message is always text."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def _extract_message(self, req: Request) -> Optional[Text]:
        return as_text(super()._extract_message(req))
