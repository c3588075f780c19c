"""Conversation locks in Redis that hold with several Rasa instances.

Rasa 3.6's ``RedisLockStore`` keeps a conversation's queue of tickets as one JSON value
that each instance reads, changes and writes back (to issue a ticket, to drop expired
ones while it waits, to return its own): two instances doing so at the same moment
overwrite each other's change (RasaHQ/rasa#9213; the fix, #11256, was reverted from Rasa
Open Source in #11428). A lost ticket waits until its request times out, because a lock
left with no tickets is never deleted; a lost "done" lets two instances serve one
conversation, and one of their turns is not stored. On the cluster profile, ten turns of
one conversation sent 30 ms apart alternately to the two instances: three stored (the
other seven got the 'unavailable' reply), or five stored and five without an answer.

Here each step is one atomic Redis script, timed by Redis's clock (instances on several
machines need not agree on the time): a ticket is the next value of the conversation's
counter, the queue is a hash of ticket -> expiry, and the lowest live ticket is served.
An instance renews its tickets (waiting or served) while it lives, so only a dead
instance's ticket expires, ``lock_lifetime`` seconds after its last renewal
(``TICKET_LOCK_LIFETIME``); a turn that waits longer than that keeps its place. A waiting
instance looks again every ``POLL_SECONDS`` (Rasa's own waits a whole second per
ticket ahead). Selected in endpoints.yml with
``lock_store: {type: rasa_server.lock_store.AtomicRedisLockStore, url, port, db}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, AsyncIterator, Optional, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05
RENEWALS_PER_LIFETIME = 3

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
# KEYS: counter, tickets. ARGV: lifetime (s). The new ticket's number.
_ISSUE = _NOW + """
local number = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], number, now + tonumber(ARGV[1]))
local ttl = math.ceil(tonumber(ARGV[1]) * 2000)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return number
"""
# KEYS: counter, tickets. ARGV: ticket, lifetime (s). 1 renewed, 0 the ticket is gone.
_RENEW = _NOW + """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
local ttl = math.ceil(tonumber(ARGV[2]) * 2000)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
"""
# KEYS: tickets. ARGV: ticket. Expired tickets dropped; 1 this ticket is served (the
# lowest live one), 0 it waits, -1 it is gone (expired).
_TURN = _NOW + """
local tickets = redis.call('HGETALL', KEYS[1])
local mine = tonumber(ARGV[1])
local lowest = nil
local present = false
for i = 1, #tickets, 2 do
  local number = tonumber(tickets[i])
  if tonumber(tickets[i + 1]) < now then
    redis.call('HDEL', KEYS[1], tickets[i])
  else
    if number == mine then present = true end
    if lowest == nil or number < lowest then lowest = number end
  end
end
if not present then return -1 end
if lowest == mine then return 1 end
return 0
"""
# KEYS: counter, tickets. ARGV: ticket. The ticket returned; both keys gone when no other
# ticket is left (an issue is atomic with its ticket, so nobody is between the two).
_RETURN = """
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HLEN', KEYS[2]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1
"""


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store with atomic tickets (see the module docstring)."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        settings = dict(endpoint_config.kwargs) if endpoint_config else {}
        settings.update(kwargs)
        if endpoint_config is not None and endpoint_config.url:
            settings.setdefault("host", endpoint_config.url)
        super().__init__(**settings)
        self._issue = self.red.register_script(_ISSUE)
        self._renew = self.red.register_script(_RENEW)
        self._turn = self.red.register_script(_TURN)
        self._return = self.red.register_script(_RETURN)

    def _keys(self, conversation_id: Text) -> list[str]:
        prefix = self.key_prefix + conversation_id
        return [prefix + ":issued", prefix + ":tickets"]

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=self._keys(conversation_id), args=[lock_lifetime]))
        except Exception as error:  # noqa: BLE001 - Redis down: Rasa's own error
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    @contextlib.asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = POLL_SECONDS) -> AsyncIterator[TicketLock]:
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        renewing = asyncio.ensure_future(self._renew_while_held(conversation_id, ticket,
                                                                lock_lifetime))
        try:
            yield await self._acquire_lock(conversation_id, ticket,
                                           min(wait_time_in_seconds, POLL_SECONDS))
        finally:
            renewing.cancel()
            self.finish_serving(conversation_id, ticket)

    async def _renew_while_held(self, conversation_id: Text, ticket: int,
                                lock_lifetime: float) -> None:
        keys = self._keys(conversation_id)
        while True:
            await asyncio.sleep(lock_lifetime / RENEWALS_PER_LIFETIME)
            try:
                if not self._renew(keys=keys, args=[ticket, lock_lifetime]):
                    return
            except Exception as error:  # noqa: BLE001 - retried at the next renewal
                logger.warning("could not renew the lock of %s: %s", conversation_id, error)

    async def _acquire_lock(self, conversation_id: Text, ticket: int,
                            wait_time_in_seconds: float) -> TicketLock:
        keys = self._keys(conversation_id)[1:]
        while True:
            try:
                turn = int(self._turn(keys=keys, args=[ticket]))
            except Exception as error:  # noqa: BLE001 - Redis down: Rasa's own error
                raise LockError(f"Could not acquire lock for conversation_id "
                                f"'{conversation_id}': {error}") from error
            if turn == 1:
                return self.get_lock(conversation_id) or TicketLock(conversation_id)
            if turn == -1:
                raise LockError(f"Could not acquire lock for conversation_id "
                                f"'{conversation_id}': its ticket expired while waiting")
            await asyncio.sleep(wait_time_in_seconds)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        try:
            self._return(keys=self._keys(conversation_id), args=[ticket_number])
        except Exception as error:  # noqa: BLE001 - the ticket expires on its own
            logger.warning("could not return the lock of %s: %s", conversation_id, error)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)

    def update_lock(self, conversation_id: Text) -> None:
        """Nothing to do: expired tickets are dropped whenever a waiter looks."""

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        tickets = self.red.hgetall(self._keys(conversation_id)[1])
        if not tickets:
            return None
        queue = sorted((Ticket(int(number), float(expires)) for number, expires in tickets.items()),
                       key=lambda ticket: ticket.number)
        return TicketLock(conversation_id, deque(queue))

    def is_someone_waiting(self, conversation_id: Text) -> bool:
        return bool(self.red.hlen(self._keys(conversation_id)[1]))

    def delete_lock(self, conversation_id: Text) -> None:
        self.red.delete(*self._keys(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("tickets change only through the atomic scripts")
