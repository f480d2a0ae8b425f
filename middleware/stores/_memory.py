"""MemoryStore: session records in this process's memory, bounded, with expiry."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..core.session_records import record_json
from ._base import Changes, Held, Members, Moved, Record, Store

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Session records in a dict of this process, least recently used evicted past
    ``max_entries``, each expiring ``ttl`` seconds after it was last written or touched.

    One process only: every worker process has its own, so use it with a single process (or
    for tests and development) and ``RedisStore`` behind several. Thread-safe: each method
    holds one lock while it reads and changes a record, so a request's changed members are
    applied to the record as it is at that moment, never to a copy another request replaced
    meanwhile. Its async face calls the same code directly, which never waits on I/O. Values
    are bytes, records are copied in and read out as JSON, so no request ever shares a mutable
    object with another.

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
        self._records: OrderedDict[str, tuple[float, Members | Moved]] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries})"

    def __len__(self) -> int:
        """How many records are held, expired ones not yet dropped included."""
        return len(self._records)

    def _live(self, key: str, now: float) -> Members | Moved | None:
        # Called with the lock held: the record under key, dropped when it has expired.
        entry = self._records.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._records[key]
            return None
        return entry[1]

    def _put(self, key: str, record: Members | Moved, ttl: int, now: float) -> None:
        records = self._records
        records[key] = (now + ttl, record)
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

    def get(self, key: str) -> Record:
        with self._lock:
            record = self._live(key, self._clock())
            if record is None:
                return None
            self._records.move_to_end(key)
            return record if isinstance(record, Moved) else record_json(record)

    def add(self, key: str, members: Members, ttl: int) -> bool:
        with self._lock:
            now = self._clock()
            if self._live(key, now) is not None:
                return False
            self._put(key, dict(members), ttl, now)
            return True

    def update(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        with self._lock:
            now = self._clock()
            record = self._live(key, now)
            if record is None or isinstance(record, Moved):
                return record
            # The store's own copy (add() copied it): changed in place.
            for name in changes.deleted:
                record.pop(name, None)
            record.update(changes.written)
            if not record:
                del self._records[key]
                return 0
            self._put(key, record, ttl, now)
            return len(record)

    def touch(self, key: str, ttl: int) -> bool | Moved:
        with self._lock:
            now = self._clock()
            record = self._live(key, now)
            if record is None:
                return False
            if isinstance(record, Moved):
                return record
            self._put(key, record, ttl, now)
            return True

    def forward(self, key: str, to: str, ttl: int) -> Held:
        with self._lock:
            now = self._clock()
            record = self._live(key, now)
            if record is None or isinstance(record, Moved):
                return record
            self._put(key, Moved(to), ttl, now)
            return record

    def delete(self, key: str) -> Moved | None:
        with self._lock:
            record = self._live(key, self._clock())
            if isinstance(record, Moved):
                return record
            self._records.pop(key, None)
            return None

    def clear(self) -> None:
        """Delete every record."""
        with self._lock:
            self._records.clear()

    async def aget(self, key: str) -> Record:
        return self.get(key)

    async def aadd(self, key: str, members: Members, ttl: int) -> bool:
        return self.add(key, members, ttl)

    async def aupdate(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        return self.update(key, changes, ttl)

    async def atouch(self, key: str, ttl: int) -> bool | Moved:
        return self.touch(key, ttl)

    async def aforward(self, key: str, to: str, ttl: int) -> Held:
        return self.forward(key, to, ttl)

    async def adelete(self, key: str) -> Moved | None:
        return self.delete(key)
