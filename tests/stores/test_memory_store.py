"""MemoryStore: add, replace, touch, delete, LRU eviction, expiry, threads; the Store base."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import middleware
from middleware.core.session_store import ID_LENGTH, StoreOps, WriteKind, is_session_id
from middleware.stores import MemoryStore, RedisStore, Store, StoreError, new_session_id
from middleware.stores._base import afetch, aperform, fetch, perform


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_exported_from_the_package() -> None:
    assert middleware.MemoryStore is MemoryStore and middleware.RedisStore is RedisStore
    assert "MemoryStore" in middleware.__all__ and "RedisStore" in middleware.__all__


def test_new_ids_are_192_random_bits() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == ID_LENGTH and is_session_id(i.encode()) for i in ids)


def test_add_replace_touch_delete() -> None:
    store = MemoryStore()
    assert store.get("a") is None
    assert store.replace("a", b"1", 10) is False  # nothing to replace
    assert store.touch("a", 10) is False
    assert store.add("a", b"1", 10) is True
    assert store.add("a", b"2", 10) is False  # taken
    assert store.get("a") == b"1"
    assert store.replace("a", b"3", 10) is True
    assert store.get("a") == b"3"
    assert store.touch("a", 10) is True
    store.delete("a")
    store.delete("a")  # deleting nothing is fine
    assert store.get("a") is None and len(store) == 0


def test_expiry_counts_from_the_last_write_or_touch() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    store.add("a", b"1", 10)
    clock.now += 9.9
    assert store.get("a") == b"1"  # a read does not extend it
    assert store.touch("a", 10) is True
    clock.now += 9.9
    assert store.get("a") == b"1"
    clock.now += 0.2
    assert store.get("a") is None
    assert store.replace("a", b"2", 10) is False  # an expired record is gone
    assert store.add("a", b"2", 10) is True


def test_expired_records_nobody_reads_are_dropped_by_later_writes() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for key in "abc":
        store.add(key, b"x", 5)
    clock.now += 6
    store.add("d", b"x", 5)
    store.add("e", b"x", 5)
    assert len(store) == 2


def test_lru_eviction_past_max_entries() -> None:
    store = MemoryStore(max_entries=3)
    for key in "abc":
        store.add(key, key.encode(), 60)
    assert store.get("a") == b"a"  # a is now the most recently used
    store.add("d", b"d", 60)  # evicts b, the least recently used
    assert [store.get(key) for key in "abcd"] == [b"a", None, b"c", b"d"]
    store.replace("c", b"C", 60)
    store.add("e", b"e", 60)  # evicts a (c was just written, d and e are newer)
    assert [store.get(key) for key in "acde"] == [None, b"C", b"d", b"e"]
    assert len(store) == 3


def test_threads_share_it_safely() -> None:
    store = MemoryStore(max_entries=500)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                key = f"{n}-{i}"
                assert store.add(key, b"v", 60)
                store.get(key)
                store.replace(key, b"w", 60)
                store.touch(f"{n}-{i - 1}", 60)
                if i % 3 == 0:
                    store.delete(key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store) <= 500


async def test_async_face_is_the_same_store() -> None:
    store = MemoryStore()
    assert await store.aadd("a", b"1", 10) is True
    assert store.get("a") == b"1"
    assert await store.areplace("a", b"2", 10) is True
    assert await store.aget("a") == b"2"
    assert await store.atouch("a", 10) is True
    await store.adelete("a")
    assert await store.aget("a") is None


@pytest.mark.parametrize(
    ("max_entries", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, ValueError), (True, ValueError), ("10", ValueError)],
)
def test_bad_max_entries(max_entries: Any, error: type) -> None:
    with pytest.raises(error, match=f"max_entries must be a positive integer, got {max_entries!r}"):
        MemoryStore(max_entries=max_entries)


def test_repr() -> None:
    assert repr(MemoryStore(max_entries=5)) == "MemoryStore(max_entries=5)"


# -- the Store base: a custom sync store works under ASGI without blocking the loop ----------


class DictStore(Store):
    """A minimal custom store; records which thread each call ran on."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}
        self.threads: set[int] = set()

    def _seen(self) -> None:
        self.threads.add(threading.get_ident())

    def get(self, key: str) -> bytes | None:
        self._seen()
        return self.records.get(key)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        self._seen()
        return self.records.setdefault(key, value) is value

    def replace(self, key: str, value: bytes, ttl: int) -> bool:
        self._seen()
        if key not in self.records:
            return False
        self.records[key] = value
        return True

    def touch(self, key: str, ttl: int) -> bool:
        self._seen()
        return key in self.records

    def delete(self, key: str) -> None:
        self._seen()
        self.records.pop(key, None)


async def test_async_face_defaults_to_a_worker_thread() -> None:
    store = DictStore()
    assert await store.aadd("a", b"1", 10) is True
    assert await store.areplace("a", b"2", 10) is True
    assert await store.atouch("a", 10) is True
    assert await store.aget("a") == b"2"
    await store.adelete("a")
    assert store.records == {}
    assert threading.get_ident() not in store.threads


def test_the_interface_cannot_be_half_implemented() -> None:
    class Half(Store):
        def get(self, key: str) -> bytes | None:
            return None

    with pytest.raises(TypeError, match="abstract"):
        Half()  # type: ignore[abstract]


class Broken(DictStore):
    def get(self, key: str) -> bytes | None:
        raise KeyError(key)

    def replace(self, key: str, value: bytes, ttl: int) -> bool:
        raise OSError("disk full")


def test_any_store_exception_becomes_a_store_error() -> None:
    with pytest.raises(StoreError, match="Broken: KeyError: 'k'") as info:
        fetch(Broken(), "k")
    assert isinstance(info.value.__cause__, KeyError)
    outcome = perform(Broken(), StoreOps(WriteKind.REPLACE, "k", b"{}", 10, None))
    assert isinstance(outcome, StoreError) and "OSError: disk full" in str(outcome)


async def test_any_async_store_exception_becomes_a_store_error() -> None:
    with pytest.raises(StoreError, match="KeyError"):
        await afetch(Broken(), "k")
    outcome = await aperform(Broken(), StoreOps(WriteKind.REPLACE, "k", b"{}", 10, None))
    assert isinstance(outcome, StoreError)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_perform_runs_the_write_then_the_delete(asynchronous: bool) -> None:
    store = DictStore()
    store.records = {"old": b"{}"}

    def run(ops: StoreOps) -> Any:
        return asyncio.run(aperform(store, ops)) if asynchronous else perform(store, ops)

    assert run(StoreOps(WriteKind.ADD, "new", b'{"a":1}', 10, "old")) is True
    assert store.records == {"new": b'{"a":1}'}
    # A write that did not happen deletes nothing.
    assert run(StoreOps(WriteKind.ADD, "new", b"{}", 10, "new")) is False
    assert run(StoreOps(WriteKind.TOUCH, "gone", b"", 10, "new")) is False
    assert store.records == {"new": b'{"a":1}'}
    assert run(StoreOps(WriteKind.REPLACE, "new", b"{}", 10, None)) is True
    assert run(StoreOps(None, "", b"", 10, "new")) is True
    assert store.records == {}
