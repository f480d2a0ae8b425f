"""The store interface, and the helpers the adapters use to call a store.

A store keeps records (bytes: a session's JSON) under session IDs, each with a time to live. It
has a synchronous face, used by the WSGI middleware, and an asynchronous one (the same names
with an ``a`` in front, as Django's cache API), awaited by the ASGI middleware; an async method
must never block the event loop.
"""

from __future__ import annotations

import asyncio
import secrets
from abc import ABC, abstractmethod

from ..core.session_store import ID_LENGTH, StoreError, StoreOps, WriteKind

__all__ = ["Store", "StoreError", "afetch", "aperform", "fetch", "new_session_id", "perform"]

# secrets.token_urlsafe(n) gives ceil(4n / 3) characters: 24 random bytes, 192 bits, make the
# 32 characters of an ID. OWASP asks for "at least 64 bits of entropy"; 128 is the usual floor.
_ID_BYTES = ID_LENGTH * 3 // 4


def new_session_id() -> str:
    """A fresh session ID: 192 bits from ``secrets``, URL-safe base64 without padding."""
    return secrets.token_urlsafe(_ID_BYTES)


class Store(ABC):
    """A session store: records under session IDs, each with a time to live in seconds.

    Subclasses implement the synchronous face. The asynchronous face defaults to running it in
    a worker thread (``asyncio.to_thread``), so the event loop never waits on the store's I/O;
    a store with a native async client overrides it. Any exception a method raises is taken as
    the store being unavailable (the request is answered 503); raise ``StoreError`` with a
    useful message.
    """

    # Whether the synchronous face works (a store built on an asyncio-only client says False,
    # and the WSGI middleware refuses it at construction).
    supports_sync: bool = True

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The record under ``key``, or None when there is none (or it expired)."""

    @abstractmethod
    def add(self, key: str, value: bytes, ttl: int) -> bool:
        """Store ``value`` under ``key`` only if ``key`` is free; whether it was stored."""

    @abstractmethod
    def replace(self, key: str, value: bytes, ttl: int) -> bool:
        """Store ``value`` under ``key`` only if a record is there; whether it was stored."""

    @abstractmethod
    def touch(self, key: str, ttl: int) -> bool:
        """Give the record under ``key`` a new time to live; whether there was one."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the record under ``key`` (nothing happens when there is none)."""

    async def aget(self, key: str) -> bytes | None:
        return await asyncio.to_thread(self.get, key)

    async def aadd(self, key: str, value: bytes, ttl: int) -> bool:
        return await asyncio.to_thread(self.add, key, value, ttl)

    async def areplace(self, key: str, value: bytes, ttl: int) -> bool:
        return await asyncio.to_thread(self.replace, key, value, ttl)

    async def atouch(self, key: str, ttl: int) -> bool:
        return await asyncio.to_thread(self.touch, key, ttl)

    async def adelete(self, key: str) -> None:
        await asyncio.to_thread(self.delete, key)


def _error(store: object, exc: Exception) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    error = StoreError(f"{type(store).__name__}: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def fetch(store: Store, key: str) -> bytes | None:
    """``store.get(key)``, any failure raised as ``StoreError``."""
    try:
        return store.get(key)
    except Exception as exc:
        raise _error(store, exc) from exc


async def afetch(store: Store, key: str) -> bytes | None:
    """``await store.aget(key)``, any failure raised as ``StoreError``."""
    try:
        return await store.aget(key)
    except Exception as exc:
        raise _error(store, exc) from exc


def perform(store: Store, ops: StoreOps) -> bool | StoreError:
    """Run ``ops`` (the write, then the delete once the write succeeded) for ``settle``."""
    try:
        write = ops.write
        done = True
        if write is WriteKind.REPLACE:
            done = store.replace(ops.id, ops.value, ops.ttl)
        elif write is WriteKind.ADD:
            done = store.add(ops.id, ops.value, ops.ttl)
        elif write is WriteKind.TOUCH:
            done = store.touch(ops.id, ops.ttl)
        if done and ops.delete is not None:
            store.delete(ops.delete)
        return bool(done)
    except Exception as exc:
        return _error(store, exc)


async def aperform(store: Store, ops: StoreOps) -> bool | StoreError:
    """``perform`` through the store's asynchronous face."""
    try:
        write = ops.write
        done = True
        if write is WriteKind.REPLACE:
            done = await store.areplace(ops.id, ops.value, ops.ttl)
        elif write is WriteKind.ADD:
            done = await store.aadd(ops.id, ops.value, ops.ttl)
        elif write is WriteKind.TOUCH:
            done = await store.atouch(ops.id, ops.ttl)
        if done and ops.delete is not None:
            await store.adelete(ops.delete)
        return bool(done)
    except Exception as exc:
        return _error(store, exc)
