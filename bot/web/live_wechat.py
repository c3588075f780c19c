"""WeChat candidates in the live handoff, as the web front sees them (the channel's side:
rasa_server/wechat_handoff.py).

A WeChat candidate writes to Rasa's WeChat channel, never to this web front, so what the
desks must learn comes from Rasa's tracker store: :class:`WeChatWatch` reads the new
``pause``, ``user`` and ``resume`` events of WeChat conversations (``wx-``, ``wecom-``
senders) every few seconds while a desk is open, queues a conversation the channel paused
because the candidate asked for a person, shows the desks a candidate's message during a
handoff, and ends a handoff the channel resumed (nobody took it within the claim timeout).
A staff reply goes back through Rasa to the channel (:func:`delivery_channel`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from bot.web.chat.bubbles import user_bubble
from bot.web.live_broker import DESK_CHANNEL
from bot.web.storage.handoff import HandoffConflict
from bot.web.storage.tracker_events import DATABASE_ERRORS

if TYPE_CHECKING:
    from bot.web.live import LiveHandoff

logger = logging.getLogger(__name__)

# The sender prefixes of the WeChat channels and the channel names Rasa knows them by
# (SENDER_PREFIX and name() of rasa_server/wechat.py and rasa_server/wecom.py).
WECHAT_CHANNELS = {"wx-": "wechat", "wecom-": "wecom"}
SWEEP_SECONDS = 2.0
FIRST_LOOK_SECONDS = 15 * 60   # a web front that starts looks back this far for requests


def wechat_channel(sender_id: str) -> str | None:
    """The WeChat channel of a conversation, None for the web chat's."""
    return next((name for prefix, name in WECHAT_CHANNELS.items() if sender_id.startswith(prefix)), None)


@dataclass
class WeChatWatch:
    """What the WeChat channels stored since the last look, once per ``SWEEP_SECONDS``
    in this web front, however many desks are open."""

    customer_service: frozenset[str] = frozenset()   # channels whose account may use the API
    _after_id: int | None = None
    _looked_at: float = field(default=0.0)

    def delivery_channel(self, sender_id: str) -> str | None:
        """The channel Rasa should send a staff reply through (the customer-service API),
        or None: the reply waits for the candidate's next message (web chat: None too,
        its widget gets the reply from the event stream)."""
        channel = wechat_channel(sender_id)
        return channel if channel in self.customer_service else None

    async def sweep(self, live: LiveHandoff) -> None:
        if time.monotonic() - self._looked_at < SWEEP_SECONDS:
            return
        self._looked_at = time.monotonic()
        try:
            rows = await run_in_threadpool(live.store.channel_events, tuple(WECHAT_CHANNELS), self._after_id,
                                           time.time() - FIRST_LOOK_SECONDS)
            if not rows and self._after_id is None:
                self._after_id = await run_in_threadpool(live.store.last_event_id)
        except DATABASE_ERRORS as error:
            logger.warning("WeChat conversations not read: %s", error)
            return
        for row_id, sender_id, kind, timestamp, data in rows:
            self._after_id = row_id
            await self._seen(live, sender_id, kind, timestamp, data)

    @staticmethod
    async def _seen(live: LiveHandoff, sender_id: str, kind: str, timestamp: float, data: str) -> None:
        if kind == "pause":  # the channel paused it: the candidate asked for a person
            latest = await run_in_threadpool(live.store.latest, sender_id)
            if latest is not None and latest.requested_at >= timestamp - 1.0:
                return  # this request is queued already (or over)
            _, new = await run_in_threadpool(live.store.request, sender_id, "asked", timestamp)
            if new:
                await live.queue_changed(sender_id)
            return
        handoff = await run_in_threadpool(live.store.active, sender_id)
        if handoff is None or handoff.requested_at > timestamp:
            return
        if kind == "resume":  # the channel gave up waiting: nobody took it within the claim timeout
            try:
                await live.announce(await run_in_threadpool(live.store.end, sender_id, "system"))
            except HandoffConflict:
                pass  # ended meanwhile
            return
        try:
            text = str(json.loads(data).get("text") or "")
        except (TypeError, ValueError, AttributeError):
            return
        await live.broker.publish(DESK_CHANNEL, {"type": "message", "sender_id": sender_id,
                                                 "bubble": user_bubble(text, timestamp)})
