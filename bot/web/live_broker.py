"""Live delivery between the candidate's widget and the staff's desk: a publish/subscribe
broker carrying small JSON events.

Channels: ``conversation:<sender_id>`` (what the candidate's stream shows: the staff's
messages and the handoff's state), ``desk`` (what every desk shows: candidates' messages
during a handoff) and ``queue`` (something in the queue changed). An event is a hint: the
truth is in Rasa's tracker and the handoff store, so a stream that missed an event (a
restart, a reconnect) catches up by reading them again.

:class:`InProcessBroker` serves one web front process; :class:`RedisBroker` (Redis
pub/sub) the cluster, where the candidate's and the staff member's requests may reach
different instances. :func:`broker_for` picks one from the settings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Protocol

logger = logging.getLogger(__name__)

QUEUE_CHANNEL = "queue"
DESK_CHANNEL = "desk"
SUBSCRIBER_BACKLOG = 256  # events a slow subscriber may fall behind before it misses some


def conversation_channel(sender_id: str) -> str:
    return f"conversation:{sender_id}"


class Subscription(Protocol):
    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None after ``timeout`` seconds without one."""


class LiveBroker(Protocol):
    async def publish(self, channel: str, event: dict[str, Any]) -> None: ...

    def subscribe(self, *channels: str) -> Any:
        """An async context manager yielding a :class:`Subscription`."""

    async def aclose(self) -> None: ...


class _QueueSubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BACKLOG)

    async def next(self, timeout: float) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return None


class InProcessBroker:
    """Subscribers of this process only (the single profile)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[_QueueSubscription]] = {}

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            try:
                subscription.queue.put_nowait({**event, "channel": channel})
            except asyncio.QueueFull:
                logger.warning("live subscriber of %s fell behind; it catches up on reconnect", channel)

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[_QueueSubscription]:
        subscription = _QueueSubscription()
        for channel in channels:
            self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            for channel in channels:
                listeners = self._subscribers.get(channel)
                if listeners is not None:
                    listeners.discard(subscription)
                    if not listeners:
                        del self._subscribers[channel]

    async def aclose(self) -> None:
        self._subscribers.clear()


class _RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    async def next(self, timeout: float) -> dict[str, Any] | None:
        message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        if not message or message.get("type") != "message":
            return None
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            return None
        return event if isinstance(event, dict) else None


class RedisBroker:
    """Redis pub/sub: every web front instance of the cluster hears every event."""

    PREFIX = "handoff:"

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # the cluster's only: not needed by one web front

        self._redis = redis.from_url(url)

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        await self._redis.publish(self.PREFIX + channel, json.dumps({**event, "channel": channel}, ensure_ascii=False))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[_RedisSubscription]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(*(self.PREFIX + c for c in channels))
        try:
            yield _RedisSubscription(pubsub)
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def aclose(self) -> None:
        await self._redis.aclose()


def broker_for(redis_url: str | None) -> LiveBroker:
    """Redis pub/sub when a URL is configured (the cluster), else this process's own."""
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
