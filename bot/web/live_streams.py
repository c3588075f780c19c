"""How many live event streams one web front holds open: a bounded number per key (a
candidate's address, a staff member) and in all, so one address cannot take every
connection of the instance. Counted in this process: each instance of the cluster guards
its own connections (an open stream is a connection to this process, not shared state).

The event loop is the only writer, so the counts need no lock.
"""

from __future__ import annotations

from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator


@dataclass
class StreamSlots:
    """Open streams per key and in all, each under its limit."""

    per_key: int
    total: int
    _open: Counter = field(default_factory=Counter)

    @property
    def open_streams(self) -> int:
        return sum(self._open.values())

    def take(self, key: str) -> bool:
        """A slot for ``key``'s new stream; False when ``key`` or the instance is full."""
        if self._open[key] >= self.per_key or self.open_streams >= self.total:
            return False
        self._open[key] += 1
        return True

    def give_back(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[bool]:
        """Whether the stream may go on; its slot is given back when it ends, however."""
        taken = self.take(key)
        try:
            yield taken
        finally:
            if taken:
                self.give_back(key)
