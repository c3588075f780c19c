"""The REST channel the web front and the tools talk to: every message is text, and
every message gets a reply.

Rasa reads a message that starts with ``/`` as an intent with entities (``/restart``
wipes the conversation, ``/inform{"procedure": ...}`` sets slots). A candidate who types
``/restart`` means the words; this channel replaces the leading slash by its full-width
form (``／``) before Rasa sees the message, so no channel the project exposes lets text
reach the intent shortcut. When Rasa cannot handle a message (the tracker store
is down, an unexpected error) Rasa's REST channel answers an empty list, or what the turn
said before it failed though the store never got it; this one answers the "briefly
unavailable" reply of the one renderer, so a turn is either stored or reported as not
answered. Registered in credentials.yml under
Rasa's own name ``rest`` (the webhook stays ``/webhooks/rest/webhook``). A body's
``message_id`` (letters, digits, ``_``, ``-``) becomes the turn's id, so a retry of the
turn is answered from the stored reply (``rasa_server.exactly_once``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.constants import INTENT_MESSAGE_PREFIX
from sanic import Blueprint
from sanic.request import Request

logger = logging.getLogger(__name__)

FULL_WIDTH_SLASH = "\uff0f"
# Longer messages are cut here, before NLU: 10,000 characters took DIET's transformer past
# 30 s on one core. The answer action still refuses anything over its own, smaller limit
# (max_input_chars) with a clear message, so the cut never changes an answer.
MAX_MESSAGE_CHARS = 2000


_SURROGATES = re.compile("[\ud800-\udfff]")
MESSAGE_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def as_text(message: Any) -> Optional[Text]:
    """The message as text Rasa can keep: lone surrogates (invalid Unicode that JSON can
    carry, and that made the SQL tracker store fail and Rasa exit) removed, a leading
    ``/`` (after any blanks) made full-width, cut to ``MAX_MESSAGE_CHARS``; other values unchanged (Rasa's own checks
    handle a missing or non-text message)."""
    if not isinstance(message, str):
        return message
    message = _SURROGATES.sub("", message)[:MAX_MESSAGE_CHARS]
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

    def get_metadata(self, request: Request) -> Optional[dict[str, Any]]:
        """Carries the body's ``message_id`` to :meth:`blueprint` (not stored)."""
        body = request.json if isinstance(request.json, dict) else {}
        message_id = body.get("message_id")
        if isinstance(message_id, str) and MESSAGE_ID_PATTERN.fullmatch(message_id):
            return {"message_id": message_id}
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def answered(message: UserMessage) -> None:
            message.message_id = (message.metadata or {}).pop("message_id", None) \
                or message.message_id
            message.metadata = message.metadata or None
            output = message.output_channel
            try:
                await on_new_message(message)
            except Exception:  # noqa: BLE001 - logged; the candidate gets a reply anyway
                logger.exception("message of %s could not be handled", message.sender_id)
                # What the turn said before it failed (its tracker could not be saved, for
                # one) is not in the store: given as an answer, a retry would run it again.
                if isinstance(output, CollectingOutputChannel):
                    output.messages.clear()
            if isinstance(output, CollectingOutputChannel) and not output.messages and (
                    message.text or "").strip() and not await self.paused(message.sender_id):
                await output.send_response(message.sender_id, unavailable_message(message.text))

        blueprint = super().blueprint(answered)

        @blueprint.listener("before_server_start")
        async def keep_app(app: Any, _loop: Any) -> None:
            self._app = app

        return blueprint

    async def paused(self, sender_id: str) -> bool:
        """Whether a person has the conversation (``ConversationPaused``, the live
        handoff): Rasa stored the message and rightly said nothing."""
        try:
            tracker = await self._app.ctx.agent.tracker_store.retrieve(sender_id)
        except Exception:  # noqa: BLE001 - no app yet or the store is down: the unavailable case
            return False
        return tracker is not None and tracker.is_paused()


def unavailable_message(text: str) -> dict[str, Any]:
    """The "briefly unavailable" reply (bot.dialogue.replies) in the script of ``text``, as
    an output channel sends it."""
    from bot.dialogue.replies import unavailable_reply
    from bot.lang.text import is_traditional

    reply = unavailable_reply().in_script(is_traditional(text))
    return {"text": reply.text, "custom": reply.custom}
