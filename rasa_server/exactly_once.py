"""Exactly-once turns: a message whose id is already in the conversation's tracker is
answered from that turn's stored reply, never run again.

Every channel gives a turn an id at its source (the widget's message id, WeChat's MsgId)
and puts it into Rasa's ``UserMessage.message_id``, which Rasa stores with the
``UserUttered`` event. A retry of the same turn (the web front after an instance died,
WeChat after its five seconds) carries the same id. Under the conversation's lock (Redis
in the cluster, so whichever instance gets the retry waits for the one still running the
turn) the tracker store, shared by every instance, says whether the turn is done: then the
bot messages stored after that user event are sent again, exactly as Rasa sent them the
first time. A message without an id of its own gets Rasa's random one and is never found.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

logger = logging.getLogger(__name__)


def stored_reply(events: list[Any], message_id: Optional[str]) -> Optional[list[dict[str, Any]]]:
    """The bot messages of the turn whose user event has ``message_id`` (as Rasa's output
    channels take them), or None when no stored turn has that id."""
    from rasa.shared.core.events import BotUttered, UserUttered

    if not message_id:
        return None
    for n in range(len(events) - 1, -1, -1):
        event = events[n]
        if isinstance(event, UserUttered) and event.message_id == message_id:
            replies = []
            for later in events[n + 1:]:
                if isinstance(later, UserUttered):
                    break
                if isinstance(later, BotUttered):
                    replies.append(later.message())
            return replies
    return None


def may_be_stored(agent: Any, sender_id: str, message_id: Optional[str]) -> bool:
    """Whether a user event of ``sender_id`` may carry ``message_id``: one indexed query
    of the SQL store's ``events`` (reading the whole tracker for every turn cost about
    80 ms, doubling a turn); a false positive (``_`` is LIKE's wildcard) is ruled out
    by :func:`stored_reply`. Any other store is always read."""
    import sqlalchemy as sa

    if not message_id:
        return False
    store = agent.tracker_store
    while hasattr(store, "_tracker_store"):  # Rasa's fail-safe and awaitable wrappers
        store = store._tracker_store
    if getattr(store, "engine", None) is None or not hasattr(store, "SQLEvent"):
        return True
    events = store.SQLEvent.__table__
    patterns = [f'%"message_id":{gap}"{message_id}"%' for gap in ("", " ")]
    query = (sa.select(events.c.id).where(events.c.sender_id == sender_id,
                                          events.c.type_name == "user",
                                          sa.or_(*(events.c.data.like(p) for p in patterns)))
             .limit(1))
    with store.engine.connect() as db:
        return db.execute(query).first() is not None


async def answer_from_store(agent: Any, message: Any) -> bool:
    """Send the stored reply of ``message``'s turn to its output channel; False when the
    turn is not stored (call under the conversation's lock)."""
    if not may_be_stored(agent, message.sender_id, message.message_id):
        return False
    tracker = await agent.tracker_store.retrieve(message.sender_id)
    replies = stored_reply(list(tracker.events) if tracker else [], message.message_id)
    if replies is None:
        return False
    logger.info("turn %s of %s already handled: stored reply sent again",
                message.message_id, message.sender_id)
    for reply in replies:
        await message.output_channel.send_response(message.sender_id, reply)
    return True


def handle_each_message_once() -> None:
    """``Agent.handle_message`` answers a stored turn from the store (see above)."""
    from rasa.core.agent import Agent

    if getattr(Agent.handle_message, "exactly_once", False):
        return

    async def handle_message(self: Agent, message: Any) -> Any:
        if not self.is_ready():
            logger.info("Ignoring message as there is no agent to handle it.")
            return None
        async with self.lock_store.lock(message.sender_id):
            if await answer_from_store(self, message):
                return None
            return await self.processor.handle_message(message)

    handle_message.exactly_once = True  # type: ignore[attr-defined]
    Agent.handle_message = handle_message
