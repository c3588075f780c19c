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
    of it), as messages for the channel's text format."""
    from rasa.shared.core.events import BotUttered, UserUttered

    users = [n for n, e in enumerate(events) if isinstance(e, UserUttered)]
    this = next((n for n in reversed(users) if events[n].message_id == message_id), None)
    if this is None:
        return []
    before = max((n for n in users if n < this), default=-1)
    return [{**e.message(), STAFF_KEY: e.metadata.get(STAFF_KEY)} for e in events[before + 1:this]
            if isinstance(e, BotUttered) and e.metadata.get(DELIVERY_KEY) == NEXT_MESSAGE]


async def paused_reply(agent: Any, sender_id: str, message_id: Optional[str],
                       max_bytes: int) -> tuple[bool, Optional[str]]:
    """(whether a person has the conversation, the reply then: the staff replies waiting
    for this message, or None for no reply)."""
    tracker = await agent.tracker_store.retrieve(sender_id)
    if tracker is None or not tracker.is_paused():
        return False, None
    waiting = waiting_staff_replies(list(tracker.events), message_id)
    if not waiting:
        return True, None
    from bot.dialogue.channel_text import cut_to_bytes

    share = max_bytes // len(waiting)
    return True, cut_to_bytes("\n\n".join(staff_text(m, share - 2) for m in waiting), max_bytes)


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
