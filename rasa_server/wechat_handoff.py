"""A WeChat conversation in the live handoff (转人工, docs/HANDOFF.md), on Rasa's own
mechanisms: the handoff is Rasa's ``ConversationPaused`` and every message is in the
tracker, as for the web chat.

* **The candidate asks for a person** (the phrases of data/handoff/handoff.yml) while
  staff are on duty: the channel pauses the conversation and says a person is being
  connected; the web front finds the paused WeChat conversation and queues it
  (bot/web/live_wechat.py).
* **The candidate writes during the handoff**: Rasa stores the message and predicts
  nothing; the channel answers nothing (WeChat's ``success``), or with the staff replies
  that waited for this message. The desk shows the message (bot/web/live_wechat.py).
* **A staff member replies**: the web front appends the bot event with
  ``output_channel=<this channel>&execute_side_effects=true``, so Rasa hands it to
  :class:`StaffReplies`, which sends it through the customer-service message API
  (wechat_late's client, its cached token) where the account may use it. WeChat refusing
  it (the 48-hour window, a rate limit) raises, so Rasa stores nothing and the web front
  stores the reply marked ``handoff_delivery: next_message`` instead, as it does outright
  when the account may not use the API: such replies go with the reply to the
  candidate's next message (:func:`waiting_staff_replies`).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Optional, Text

from rasa.core.channels.channel import OutputChannel

from rasa_server.wechat_late import CustomerServiceApi

logger = logging.getLogger(__name__)

STAFF_KEY = "handoff_staff"             # bot.web.chat.bubbles.STAFF_METADATA_KEY
DELIVERY_KEY = "handoff_delivery"
NEXT_MESSAGE = "next_message"           # given with the reply to the candidate's next message


class StaffReplyNotSent(Exception):
    """WeChat did not take a staff reply: Rasa fails the append and stores nothing."""


def staff_text(message: dict[str, Any], max_bytes: int) -> str:
    """A staff message as WeChat text: who writes, then the reply (a cited answer with
    its sources), in the channel's one plain-text format."""
    from bot.dialogue.channel_text import plain_text, texts

    heading = texts()["staff_heading"].format(staff=message.get(STAFF_KEY) or "")
    room = max_bytes - len(heading.encode("utf-8")) - 1
    return heading + "\n" + plain_text([message], room)


class StaffReplies(OutputChannel):
    """Where Rasa sends a staff member's bot event for a WeChat conversation."""

    def __init__(self, api: Optional[CustomerServiceApi], max_bytes: int) -> None:
        self.api, self.max_bytes = api, max_bytes

    @classmethod
    def name(cls) -> Text:
        return "wechat-staff"

    async def send_response(self, recipient_id: Text, message: dict[str, Any]) -> None:
        from rasa_server.wechat_late import CustomerServiceError

        if self.api is None:
            raise StaffReplyNotSent("this account may not use the customer-service API")
        try:
            await self.api.send_text(recipient_id.split("-", 1)[1], staff_text(message, self.max_bytes))
        except CustomerServiceError as error:
            logger.warning("staff reply to %s not sent by the customer-service API: %s", recipient_id, error)
            raise StaffReplyNotSent(str(error)) from error


def waiting_staff_replies(events: list[Any], message_id: Optional[str]) -> list[dict[str, Any]]:
    """The staff replies marked for the next message that came after the candidate's
    previous message and before the message ``message_id`` (the same on WeChat's retries
    of it; a message not stored yet comes after every event), as messages for the
    channel's text format."""
    from rasa.shared.core.events import BotUttered, UserUttered

    users = [n for n, e in enumerate(events) if isinstance(e, UserUttered)]
    this = next((n for n in reversed(users) if events[n].message_id == message_id), len(events))
    before = max((n for n in users if n < this), default=-1)
    return [{**e.message(), STAFF_KEY: e.metadata.get(STAFF_KEY)} for e in events[before + 1:this]
            if isinstance(e, BotUttered) and e.metadata.get(DELIVERY_KEY) == NEXT_MESSAGE]


def unclaimed_too_long(events: list[Any], now: float) -> bool:
    """Paused longer than the claim timeout (data/handoff) without a staff message: nobody
    took the conversation (or no desk was open to see it)."""
    from rasa.shared.core.events import BotUttered, ConversationPaused

    from bot.datafiles import handoff_settings

    timeout = float(os.environ.get("HANDOFF_CLAIM_TIMEOUT_SECONDS")
                    or handoff_settings().get("claim_timeout_seconds", 300))
    paused = next((n for n in range(len(events) - 1, -1, -1) if isinstance(events[n], ConversationPaused)), None)
    if paused is None or now - events[paused].timestamp <= timeout:
        return False
    return not any(isinstance(e, BotUttered) and e.metadata.get(STAFF_KEY) for e in events[paused:])


class PausedTurn:
    """A WeChat message in a conversation a person has (or was asked for): read before
    the turn, once, from the tracker store."""

    def __init__(self, paused: bool, waiting: list[dict[str, Any]]) -> None:
        self.paused, self.waiting = paused, waiting

    def reply(self, max_bytes: int) -> Optional[str]:
        """The staff replies that waited for this message, or None for no reply."""
        if not self.waiting:
            return None
        from bot.dialogue.channel_text import cut_to_bytes

        share = max_bytes // len(self.waiting)
        return cut_to_bytes("\n\n".join(staff_text(m, share - 2) for m in self.waiting), max_bytes)


async def paused_turn(agent: Any, sender_id: str, message_id: Optional[str]) -> PausedTurn:
    """Whether a person has the conversation, and what waits for this message. A pause
    nobody took up within the claim timeout is over (``ConversationResumed``): the
    assistant answers again, and the web front ends the queued handoff."""
    from rasa.shared.core.events import ConversationResumed

    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None or not tracker.is_paused():
        return PausedTurn(False, [])
    events = list(tracker.events)
    if unclaimed_too_long(events, time.time()):
        async with agent.lock_store.lock(sender_id):
            tracker = await agent.processor.fetch_tracker_with_initial_session(sender_id)
            if tracker.is_paused():
                tracker.update(ConversationResumed(timestamp=time.time()))
                await agent.tracker_store.save(tracker)
        logger.info("%s waited past the claim timeout: the assistant answers again", sender_id)
        return PausedTurn(False, [])
    return PausedTurn(True, waiting_staff_replies(events, message_id))


def staff_on_duty() -> bool:
    """As the web front decides (``HANDOFF_HOURS`` = open | closed | schedule)."""
    mode = os.environ.get("HANDOFF_HOURS", "schedule")
    if mode in ("open", "closed"):
        return mode == "open"
    from bot.dialogue.staff_hours import within_staff_hours

    return within_staff_hours()


async def pause_for_a_person(agent: Any, sender_id: str, text: str) -> bool:
    """Pause the conversation when ``text`` asks for a person and staff are on duty (the
    web front then queues it); True when it did or the conversation already was."""
    from bot.dialogue.handoff_request import asks_for_person

    if not asks_for_person(text) or not staff_on_duty():
        return False
    from rasa.shared.core.events import ConversationPaused

    async with agent.lock_store.lock(sender_id):
        tracker = await agent.processor.fetch_tracker_with_initial_session(sender_id)
        if not tracker.is_paused():
            tracker.update(ConversationPaused(timestamp=time.time()))
            await agent.tracker_store.save(tracker)
    return True
