"""The live handoff's runtime, shared by the candidates' side (:mod:`bot.web.chat.live`)
and the staff's desk (:mod:`bot.web.console.live`): the store, the broker, the limits,
and the operations that change both the store and Rasa's tracker.

Rasa's own events carry the handoff, so the log, the inbox, the exports and the
assistant's next turn all see it: joining the queue appends ``ConversationPaused``
(Rasa then stores the candidate's messages and predicts nothing), a staff message is a
``BotUttered`` whose metadata names the staff member (``handoff_staff``), and the end
appends ``ConversationResumed``. A candidate's message during the handoff is logged with
``POST /conversations/<id>/messages`` (stored and NLU-parsed, never answered).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bot.datafiles import handoff_settings
from bot.dialogue.staff_hours import daily_hours, within_staff_hours
from bot.rasa_client import AsyncRasaClient, RasaBadResponse
from bot.web.security import SlidingWindowLimiter as SlidingWindowLimit
from bot.web.storage.handoff import Handoff, HandoffStore
from bot.web.live_broker import (DESK_CHANNEL, QUEUE_CHANNEL, LiveBroker, broker_for,
                                 conversation_channel)
from bot.web.live_streams import StreamSlots
from bot.web.live_wechat import WeChatWatch, wechat_channel
from bot.web.storage.conversations import DELIVERY_METADATA_KEY, NEXT_MESSAGE
from bot.web.chat.bubbles import STAFF_METADATA_KEY, bot_bubble, user_bubble
from bot.web.config import WebSettings

HOURS_MODES = ("schedule", "open", "closed")
logger = logging.getLogger(__name__)


def _streams(per_key: str, total: str, per_key_override: int | None = None) -> StreamSlots:
    limits = handoff_settings().get("streams") or {}
    per = per_key_override if per_key_override is not None else limits.get(per_key, 8)
    return StreamSlots(int(per), int(limits.get(total, 400)))


def _limit(name: str, default: tuple[int, int]) -> SlidingWindowLimit:
    count, seconds = (handoff_settings().get("rate_limits") or {}).get(name) or default
    return SlidingWindowLimit(int(count), float(seconds))


@dataclass
class LiveHandoff:
    """What the live handoff's handlers share (``app.state.live``)."""

    store: HandoffStore
    broker: LiveBroker
    hours: str = "schedule"              # schedule | open | closed (HANDOFF_HOURS, for tests and drills)
    claim_timeout_override: float | None = None   # HANDOFF_CLAIM_TIMEOUT_SECONDS
    release_override: float | None = None         # HANDOFF_DESK_RELEASE_SECONDS
    per_session: SlidingWindowLimit = field(default_factory=lambda: _limit("per_session", (20, 600)))
    per_client: SlidingWindowLimit = field(default_factory=lambda: _limit("per_client", (200, 600)))
    candidate_streams: StreamSlots = field(default_factory=lambda: _streams("per_client", "candidates_total"))
    desk_streams: StreamSlots = field(default_factory=lambda: _streams("per_staff", "desks_total"))
    wechat: WeChatWatch = field(default_factory=WeChatWatch)

    @classmethod
    def from_settings(cls, settings: WebSettings) -> LiveHandoff:
        return cls(HandoffStore(settings.tracker_db_url), broker_for(settings.handoff_redis_url),
                   settings.handoff_hours, settings.handoff_claim_timeout_seconds,
                   settings.handoff_desk_release_seconds,
                   candidate_streams=_streams("per_client", "candidates_total", settings.handoff_streams_per_client),
                   wechat=WeChatWatch(frozenset(name for name, on in (
                       ("wechat", settings.wechat_customer_service), ("wecom", settings.wecom_customer_service)) if on)))

    def staff_on_duty(self) -> bool:
        if self.hours in ("open", "closed"):
            return self.hours == "open"
        return within_staff_hours()

    def claim_timeout(self) -> float:
        if self.claim_timeout_override is not None:
            return self.claim_timeout_override
        return float(handoff_settings().get("claim_timeout_seconds", 300))

    def release_seconds(self) -> float:
        if self.release_override is not None:
            return self.release_override
        return float(handoff_settings().get("desk_release_seconds", 60))

    def tick_seconds(self, longest: float) -> float:
        """How often an open stream shows it is alive and sweeps the claims of desks that
        disappeared: at most ``longest``, and thrice within the release time."""
        return max(0.5, min(longest, self.release_seconds() / 3))

    @staticmethod
    def stream_retry_ms() -> int:
        """When a refused or finished stream's client may try again (SSE ``retry``)."""
        return int(float((handoff_settings().get("streams") or {}).get("retry_seconds", 30)) * 1000)

    def wait_seconds(self, session_id: str, client: str) -> int:
        """0 when this request may go on, else how long to wait."""
        now = time.monotonic()
        return self.per_client.take(client, now) or self.per_session.take(session_id, now)

    # ------------------------------------------------------------------ views

    async def view(self, sender_id: str, handoff: Handoff | None = None) -> dict[str, Any]:
        """The handoff as the candidate's widget shows it."""
        if handoff is None:
            handoff = await run_in_threadpool(self.store.latest, sender_id)
        if handoff is None:
            return self.no_handoff()
        position = await run_in_threadpool(self.store.position, handoff)
        unclaimed = handoff.state == "queued" and time.time() - handoff.requested_at > self.claim_timeout()
        return {"state": handoff.state, "position": position, "staff": handoff.staff,
                "requested_at": handoff.requested_at, "unclaimed": unclaimed, "open": self.staff_on_duty()}

    def no_handoff(self) -> dict[str, Any]:
        """The view without a handoff: whether staff are on duty, and their hours."""
        hours = "、".join(f"{start:%H:%M}–{end:%H:%M}" for start, end in daily_hours())
        return {"state": "none", "open": self.staff_on_duty(), "hours": hours}

    async def queue_changed(self, sender_id: str) -> None:
        await self.broker.publish(QUEUE_CHANNEL, {"type": "queue", "sender_id": sender_id})

    # ------------------------------------------------------------------ operations

    async def request(self, rasa: AsyncRasaClient, sender_id: str, reason: str) -> Handoff:
        """The conversation joins the queue and Rasa pauses it."""
        handoff, new = await run_in_threadpool(self.store.request, sender_id, reason)
        if new:
            await rasa.append_events(sender_id, [{"event": "pause", "timestamp": time.time()}])
            await self.queue_changed(sender_id)
        return handoff

    async def candidate_message(self, rasa: AsyncRasaClient, sender_id: str, text: str) -> dict[str, Any]:
        """A candidate's message while a person has the conversation: stored, shown on the desks."""
        await rasa.log_user_message(sender_id, text)
        bubble = user_bubble(text, time.time())
        await self.broker.publish(DESK_CHANNEL, {"type": "message", "sender_id": sender_id, "bubble": bubble})
        return bubble

    async def staff_message(self, rasa: AsyncRasaClient, sender_id: str, who: str, text: str,
                            custom: dict[str, Any] | None) -> dict[str, Any]:
        """A staff member's message: a bot utterance in Rasa marked with their name; to a
        WeChat candidate sent through the channel, or kept for their next message
        (``delivery``: ``sent`` or ``next_message``)."""
        now = time.time()
        event = {"event": "bot", "text": text, "timestamp": now,
                 "data": {"custom": custom} if custom else {}, "metadata": {STAFF_METADATA_KEY: who}}
        delivery = await self._store_staff_event(rasa, sender_id, event)
        bubble = {**bot_bubble(text, None, custom, now), "staff": who}
        if delivery:
            bubble["delivery"] = delivery
        event = {"type": "message", "sender_id": sender_id, "bubble": bubble}
        await self.broker.publish(conversation_channel(sender_id), event)
        await self.broker.publish(DESK_CHANNEL, event)
        return bubble

    async def _store_staff_event(self, rasa: AsyncRasaClient, sender_id: str, event: dict[str, Any]) -> str | None:
        if wechat_channel(sender_id) is None:  # the web chat: its widget's stream shows it
            await rasa.append_events(sender_id, [event])
            return None
        channel = self.wechat.delivery_channel(sender_id)
        if channel is not None:
            try:  # Rasa sends it through the channel's customer-service API, then stores it
                await rasa.append_events(sender_id, [event], output_channel=channel)
                return "sent"
            except RasaBadResponse as error:  # WeChat did not take it: Rasa stored nothing
                logger.warning("staff reply to %s not sent through %s: %s", sender_id, channel, error)
        event["metadata"][DELIVERY_METADATA_KEY] = NEXT_MESSAGE
        await rasa.append_events(sender_id, [event])
        return NEXT_MESSAGE

    async def resume(self, rasa: AsyncRasaClient, handoff: Handoff) -> None:
        """The assistant answers again: Rasa resumes, the widget and the desks hear it."""
        await rasa.append_events(handoff.sender_id, [{"event": "resume", "timestamp": time.time()}])
        await self.announce(handoff)

    async def announce(self, handoff: Handoff) -> None:
        """Tell the candidate's stream and the desks that the handoff changed."""
        await self.broker.publish(conversation_channel(handoff.sender_id),
                                  {"type": "state", "sender_id": handoff.sender_id})
        await self.queue_changed(handoff.sender_id)

    async def release_stale(self) -> None:
        """Conversations whose holder's desk disappeared go back to the queue."""
        for handoff in await run_in_threadpool(self.store.release_stale, self.release_seconds()):
            await self.announce(handoff)


def live_handoff(request: Request) -> LiveHandoff:
    """The application's live handoff (``app.state.live``, set in ``create_app``)."""
    return request.app.state.live
