"""MemoryStore: session records in this process's memory, bounded, with expiry."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ._base import Store

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Session records in a dict of this process, least recently used evicted past
    ``max_entries``, each expiring ``ttl`` seconds after it was last written or touched.

    One process only: every worker process has its own, so use it with a single process (or
    for tests and development) and ``RedisStore`` behind several. Thread-safe (one lock held
    for a dict operation), so WSGI worker threads share it; its async face calls the same
    code directly, which never waits on I/O. Records are bytes, so no request ever shares a
    mutable object with another.

    ``clock`` (seconds, monotonic by default) is there for tests.
    """

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if type(max_entries) is not int or max_entries < 1:
            raise ValueError(f"max_entries must be a positive integer, got {max_entries!r}.")
        if not callable(clock):
            raise TypeError(f"clock must be a function returning seconds, got {clock!r}.")
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (expiry time, record); the order is the order of last use, oldest first.
        self._records: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries})"

    def __len__(self) -> int:
        """How many records are held, expired ones not yet dropped included."""
        return len(self._records)

    def _live(self, key: str, now: float) -> tuple[float, bytes] | None:
        # Called with the lock held: the record under key, dropped when it has expired.
        entry = self._records.get(key)
        if entry is not None and entry[0] <= now:
            del self._records[key]
            return None
        return entry

    def _put(self, key: str, value: bytes, ttl: int, now: float) -> None:
        records = self._records
        records[key] = (now + ttl, value)
        records.move_to_end(key)
        while len(records) > self.max_entries:
            records.popitem(last=False)
        # Expired records are dropped when read; those nobody reads again are dropped here,
        # from the least recently used end, a few per write.
        for _ in range(2):
            oldest = next(iter(records.values()), None)
            if oldest is None or oldest[0] > now:
                break
            records.popitem(last=False)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._live(key, self._clock())
            if entry is None:
                return None
            self._records.move_to_end(key)
            return entry[1]

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        with self._lock:
            now = self._clock()
            if self._live(key, now) is not None:
                return False
            self._put(key, value, ttl, now)
            return True

    def replace(self, key: str, value: bytes, ttl: int) -> bool:
        with self._lock:
            now = self._clock()
            if self._live(key, now) is None:
                return False
            self._put(key, value, ttl, now)
            return True

    def touch(self, key: str, ttl: int) -> bool:
        with self._lock:
            now = self._clock()
            entry = self._live(key, now)
            if entry is None:
                return False
            self._put(key, entry[1], ttl, now)
            return True

    def delete(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)

    def clear(self) -> None:
        """Delete every record."""
        with self._lock:
            self._records.clear()

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aadd(self, key: str, value: bytes, ttl: int) -> bool:
        return self.add(key, value, ttl)

    async def areplace(self, key: str, value: bytes, ttl: int) -> bool:
        return self.replace(key, value, ttl)

    async def atouch(self, key: str, ttl: int) -> bool:
        return self.touch(key, ttl)

    async def adelete(self, key: str) -> None:
        self.delete(key)
