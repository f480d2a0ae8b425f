"""The store interface, and the helpers the adapters use to call a store.

A store keeps session records under session IDs, each with a time to live. A record is the
session's JSON object member by member (``Members``: name -> value, both JSON), read whole (as
the JSON object) and changed member by member, so a request changes only the members it wrote
or deleted, and requests of one session running at once
never undo each other's changes to different keys. Under the old ID of a regenerated session
the store keeps a forwarding record (``Moved``) for a short while instead.

A store has a synchronous face, used by the WSGI middleware, and an asynchronous one (the same
names with an ``a`` in front, as Django's cache API), awaited by the ASGI middleware; an async
method must never block the event loop. Every method reads and writes one key, atomically: a
store shared by several servers (Redis) needs nothing more, and on Redis Cluster each
operation runs in its key's slot.
"""

from __future__ import annotations

import asyncio
import secrets
from abc import ABC, abstractmethod

from ..core.session_records import (
    Changes,
    Held,
    Members,
    Moved,
    Record,
    Saved,
    StoreError,
    StoreOps,
    WriteKind,
    merged,
)
from ..core.session_store import FORWARD_TTL, ID_LENGTH

__all__ = [
    "Changes",
    "Held",
    "Members",
    "Moved",
    "Record",
    "Store",
    "StoreError",
    "afetch",
    "aperform",
    "fetch",
    "new_session_id",
    "perform",
]

# secrets.token_urlsafe(n) gives ceil(4n / 3) characters: 24 random bytes, 192 bits, make the
# 32 characters of an ID. OWASP asks for "at least 64 bits of entropy"; 128 is the usual floor.
_ID_BYTES = ID_LENGTH * 3 // 4


def new_session_id() -> str:
    """A fresh session ID: 192 bits from ``secrets``, URL-safe base64 without padding."""
    return secrets.token_urlsafe(_ID_BYTES)


class Store(ABC):
    """A session store: records under session IDs, each with a time to live in seconds.

    Subclasses implement the synchronous face; each method is atomic on its one key. The
    asynchronous face defaults to running it in a worker thread (``asyncio.to_thread``), so
    the event loop never waits on the store's I/O; a store with a native async client
    overrides it. Any exception a method raises is taken as the store being unavailable (the
    request is answered 503); raise ``StoreError`` with a useful message.
    """

    # Whether the synchronous face works (a store built on an asyncio-only client says False,
    # and the WSGI middleware refuses it at construction).
    supports_sync: bool = True

    @abstractmethod
    def get(self, key: str) -> Record:
        """The record under ``key`` as its JSON object (``record_json`` of its members), a
        ``Moved`` forwarding record, or None when there is none (or it expired)."""

    @abstractmethod
    def add(self, key: str, members: Members, ttl: int) -> bool:
        """Store a record under ``key`` only if ``key`` is free; whether it was stored."""

    @abstractmethod
    def update(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        """Apply ``changes`` to the record under ``key`` and give it ``ttl``, only if a record is
        there. Returns how many members it has left (0: none, and the record is gone), the
        ``Moved`` found instead (left as it is), or None when there is nothing."""

    @abstractmethod
    def touch(self, key: str, ttl: int) -> bool | Moved:
        """Give the record under ``key`` a new time to live; whether there was one (a ``Moved``
        found instead is left as it is and returned)."""

    @abstractmethod
    def forward(self, key: str, to: str, ttl: int) -> Held:
        """Replace the record under ``key`` with ``Moved(to)`` living ``ttl`` seconds; return
        the record it replaced. A ``Moved`` found instead is left as it is and returned; with
        nothing under ``key``, nothing is written and None is returned."""

    @abstractmethod
    def delete(self, key: str) -> Moved | None:
        """Delete the record under ``key`` (nothing happens when there is none). A ``Moved``
        found instead is left to expire and returned: the session lives under another ID."""

    async def aget(self, key: str) -> Record:
        return await asyncio.to_thread(self.get, key)

    async def aadd(self, key: str, members: Members, ttl: int) -> bool:
        return await asyncio.to_thread(self.add, key, members, ttl)

    async def aupdate(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        return await asyncio.to_thread(self.update, key, changes, ttl)

    async def atouch(self, key: str, ttl: int) -> bool | Moved:
        return await asyncio.to_thread(self.touch, key, ttl)

    async def aforward(self, key: str, to: str, ttl: int) -> Held:
        return await asyncio.to_thread(self.forward, key, to, ttl)

    async def adelete(self, key: str) -> Moved | None:
        return await asyncio.to_thread(self.delete, key)


def _error(store: object, exc: Exception) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    error = StoreError(f"{type(store).__name__}: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def fetch(store: Store, key: str) -> Record:
    """``store.get(key)``, any failure raised as ``StoreError``."""
    try:
        return store.get(key)
    except Exception as exc:
        raise _error(store, exc) from exc


async def afetch(store: Store, key: str) -> Record:
    """``await store.aget(key)``, any failure raised as ``StoreError``."""
    try:
        return await store.aget(key)
    except Exception as exc:
        raise _error(store, exc) from exc


# -- performing a response's StoreOps -------------------------------------------------------
#
# perform() and aperform() are the same steps, through the synchronous and the asynchronous
# face. The steps that follow a forwarding record each touch one key after the other, never
# two keys at once.


def _followed(left: int | Moved | None) -> Saved:
    # The changes went to the ID the session moved to; a second move, or a session gone from
    # there too, leaves them unsaved.
    return Saved.DROPPED if left is None or isinstance(left, Moved) else Saved.MERGED


def _touched(touched: bool | Moved) -> Saved:
    if isinstance(touched, Moved):
        return Saved.DROPPED
    return Saved.DONE if touched else Saved.GONE


def perform(store: Store, ops: StoreOps) -> Saved | StoreError:
    """Run ``ops`` (the write, then the delete once the write succeeded) for ``settle``."""
    try:
        write = ops.write
        if write is WriteKind.UPDATE:
            left = store.update(ops.id, ops.changes, ops.ttl)
            if isinstance(left, Moved):
                return _followed(store.update(left.to, ops.changes, ops.ttl))
            if left is None:
                return Saved.GONE
            return Saved.DONE if left else Saved.EMPTIED
        if write is WriteKind.MOVE:
            return _move(store, ops)
        if write is WriteKind.TOUCH:
            return _touched(store.touch(ops.id, ops.ttl))
        if write is WriteKind.ADD and not store.add(ops.id, ops.changes.written, ops.ttl):
            return Saved.TAKEN
        if ops.delete is not None and store.delete(ops.delete) is not None and write is None:
            # clear() on an ID regenerate() had moved: the new session is not this request's.
            return Saved.DROPPED
        return Saved.DONE
    except Exception as exc:
        return _error(store, exc)


def _move(store: Store, ops: StoreOps) -> Saved:
    source = ops.source or ""
    # The old ID forwards first, and hands over what it held at that moment: a change another
    # request commits to it before then is carried over, one after it follows the forwarding.
    held = store.forward(source, ops.id, FORWARD_TTL)
    if held is None:
        return Saved.GONE
    if isinstance(held, Moved):
        # Another request regenerated it first: that one's new ID stands.
        return Saved.DROPPED
    members = merged(held, ops.changes)
    if not members:
        return Saved.EMPTIED
    return Saved.DONE if store.add(ops.id, members, ops.ttl) else Saved.TAKEN


async def aperform(store: Store, ops: StoreOps) -> Saved | StoreError:
    """``perform`` through the store's asynchronous face."""
    try:
        write = ops.write
        if write is WriteKind.UPDATE:
            left = await store.aupdate(ops.id, ops.changes, ops.ttl)
            if isinstance(left, Moved):
                return _followed(await store.aupdate(left.to, ops.changes, ops.ttl))
            if left is None:
                return Saved.GONE
            return Saved.DONE if left else Saved.EMPTIED
        if write is WriteKind.MOVE:
            return await _amove(store, ops)
        if write is WriteKind.TOUCH:
            return _touched(await store.atouch(ops.id, ops.ttl))
        if write is WriteKind.ADD and not await store.aadd(ops.id, ops.changes.written, ops.ttl):
            return Saved.TAKEN
        if ops.delete is not None and await store.adelete(ops.delete) is not None and write is None:
            return Saved.DROPPED
        return Saved.DONE
    except Exception as exc:
        return _error(store, exc)


async def _amove(store: Store, ops: StoreOps) -> Saved:
    held = await store.aforward(ops.source or "", ops.id, FORWARD_TTL)
    if held is None:
        return Saved.GONE
    if isinstance(held, Moved):
        return Saved.DROPPED
    members = merged(held, ops.changes)
    if not members:
        return Saved.EMPTIED
    return Saved.DONE if await store.aadd(ops.id, members, ops.ttl) else Saved.TAKEN
