"""MemoryStore: expiry, LRU eviction, copies, threads; the Store base and a custom store.

The operations every store shares (add, update, touch, forward, delete, and what ``perform``
makes of them) are ``tests/stores/test_store_contract.py``, run against MemoryStore and Redis.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import middleware
from middleware.core.session_store import (
    ID_LENGTH,
    Changes,
    Held,
    Members,
    Moved,
    Record,
    Saved,
    StoreOps,
    WriteKind,
    is_session_id,
    merged,
    record_json,
)
from middleware.stores import MemoryStore, RedisStore, Store, StoreError, new_session_id
from middleware.stores._base import afetch, aperform, fetch, perform

A: Members = {b'"a"': b"1"}
B: Members = {b'"b"': b"2"}


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


def test_records_are_copied_in_and_read_out_as_json() -> None:
    store = MemoryStore()
    members = dict(A)
    store.add("a", members, 10)
    members[b'"x"'] = b"0"
    assert store.get("a") == b'{"a":1}'
    store.update("a", Changes(B, ()), 10)
    assert store.get("a") == b'{"a":1,"b":2}'
    assert A == {b'"a"': b"1"}


def test_expiry_counts_from_the_last_write_or_touch() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    store.add("a", A, 10)
    clock.now += 9.9
    assert store.get("a") == b'{"a":1}'  # a read does not extend it
    assert store.touch("a", 10) is True
    clock.now += 9.9
    assert store.update("a", Changes(B, ()), 10) == 2
    clock.now += 9.9
    assert store.get("a") == b'{"a":1,"b":2}'
    clock.now += 0.2
    assert store.get("a") is None
    assert store.update("a", Changes(B, ()), 10) is None  # an expired record is gone
    assert store.add("a", B, 10) is True


def test_forwarding_records_expire_too() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    store.add("old", A, 600)
    assert store.forward("old", "new", 60) == A
    clock.now += 59.9
    assert store.get("old") == Moved("new")
    clock.now += 0.2
    assert store.get("old") is None
    assert store.delete("old") is None


def test_expired_records_nobody_reads_are_dropped_by_later_writes() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for key in "abc":
        store.add(key, A, 5)
    clock.now += 6
    store.add("d", A, 5)
    store.add("e", A, 5)
    assert len(store) == 2


def test_lru_eviction_past_max_entries() -> None:
    store = MemoryStore(max_entries=3)
    for key in "abc":
        store.add(key, {b'"k"': key.encode()}, 60)
    assert store.get("a") == b'{"k":a}'  # a is now the most recently used
    store.add("d", A, 60)  # evicts b, the least recently used
    assert [store.get(key) is not None for key in "abcd"] == [True, False, True, True]
    store.update("c", Changes(B, ()), 60)
    store.add("e", A, 60)  # evicts a (c was just written, d and e are newer)
    assert [store.get(key) is not None for key in "acde"] == [False, True, True, True]
    assert len(store) == 3


def test_threads_share_it_safely() -> None:
    store = MemoryStore(max_entries=500)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                key = f"{n}-{i}"
                assert store.add(key, A, 60)
                store.get(key)
                store.update(key, Changes(B, ()), 60)
                store.touch(f"{n}-{i - 1}", 60)
                if i % 3 == 0:
                    store.delete(key)
                elif i % 3 == 1:
                    store.forward(key, "elsewhere", 60)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store) <= 500


def test_threads_changing_different_keys_of_one_record_lose_nothing() -> None:
    store = MemoryStore()
    store.add("s", A, 60)
    threads = [
        threading.Thread(
            target=lambda n=n: store.update("s", Changes({f'"k{n}"'.encode(): b"1"}, ()), 60)
        )
        for n in range(50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(json.loads(store.get("s") or b"")) == 51


async def test_async_face_is_the_same_store() -> None:
    store = MemoryStore()
    assert await store.aadd("a", A, 10) is True
    assert store.get("a") == b'{"a":1}'
    assert await store.aupdate("a", Changes(B, ()), 10) == 2
    assert await store.aget("a") == b'{"a":1,"b":2}'
    assert await store.atouch("a", 10) is True
    assert await store.aforward("a", "b", 10) == {**A, **B}
    assert await store.adelete("a") == Moved("b")


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
    """A minimal custom store (no expiry); records which thread each call ran on."""

    def __init__(self) -> None:
        self.records: dict[str, Members | Moved] = {}
        self.threads: set[int] = set()

    def _seen(self) -> None:
        self.threads.add(threading.get_ident())

    def get(self, key: str) -> Record:
        self._seen()
        record = self.records.get(key)
        return record_json(record) if isinstance(record, dict) else record

    def add(self, key: str, members: Members, ttl: int) -> bool:
        self._seen()
        return self.records.setdefault(key, dict(members)) == members

    def update(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        self._seen()
        record = self.records.get(key)
        if record is None or isinstance(record, Moved):
            return record
        self.records[key] = merged(record, changes)
        return len(self.records[key])

    def touch(self, key: str, ttl: int) -> bool | Moved:
        self._seen()
        record = self.records.get(key)
        return record if isinstance(record, Moved) else record is not None

    def forward(self, key: str, to: str, ttl: int) -> Held:
        self._seen()
        record = self.records.get(key)
        if isinstance(record, dict):
            self.records[key] = Moved(to)
        return record

    def delete(self, key: str) -> Moved | None:
        self._seen()
        if isinstance(self.records.get(key), Moved):
            return Moved("elsewhere")
        self.records.pop(key, None)
        return None


async def test_async_face_defaults_to_a_worker_thread() -> None:
    store = DictStore()
    assert await store.aadd("a", A, 10) is True
    assert await store.aupdate("a", Changes(B, ()), 10) == 2
    assert await store.atouch("a", 10) is True
    assert await store.aget("a") == b'{"a":1,"b":2}'
    assert await store.aforward("a", "b", 10) == {**A, **B}
    assert await store.adelete("a") is not None
    del store.records["a"]
    assert await store.adelete("a") is None
    assert store.records == {}
    assert threading.get_ident() not in store.threads


def test_the_interface_cannot_be_half_implemented() -> None:
    class Half(Store):
        def get(self, key: str) -> Record:
            return None

    with pytest.raises(TypeError, match="abstract"):
        Half()  # type: ignore[abstract]


class Broken(DictStore):
    def get(self, key: str) -> Record:
        raise KeyError(key)

    def update(self, key: str, changes: Changes, ttl: int) -> int | Moved | None:
        raise OSError("disk full")


UPDATE = StoreOps(WriteKind.UPDATE, "k", Changes(A, ()), 10)


def test_any_store_exception_becomes_a_store_error() -> None:
    with pytest.raises(StoreError, match="Broken: KeyError: 'k'") as info:
        fetch(Broken(), "k")
    assert isinstance(info.value.__cause__, KeyError)
    outcome = perform(Broken(), UPDATE)
    assert isinstance(outcome, StoreError) and "OSError: disk full" in str(outcome)


async def test_any_async_store_exception_becomes_a_store_error() -> None:
    with pytest.raises(StoreError, match="KeyError"):
        await afetch(Broken(), "k")
    outcome = await aperform(Broken(), UPDATE)
    assert isinstance(outcome, StoreError)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_perform_on_a_custom_store(asynchronous: bool) -> None:
    store = DictStore()
    store.records = {"old": dict(A)}

    def run(ops: StoreOps) -> Any:
        return asyncio.run(aperform(store, ops)) if asynchronous else perform(store, ops)

    assert run(StoreOps(WriteKind.ADD, "new", Changes(B, ()), 10, "old")) is Saved.DONE
    assert store.records == {"new": B}
    # A write that did not happen deletes nothing.
    assert run(StoreOps(WriteKind.ADD, "new", Changes(A, ()), 10, "new")) is Saved.TAKEN
    assert run(StoreOps(WriteKind.TOUCH, "gone", Changes({}, ()), 10, "new")) is Saved.GONE
    assert store.records == {"new": B}
    moved = StoreOps(WriteKind.MOVE, "newer", Changes(A, ()), 10, source="new")
    assert run(moved) is Saved.DONE
    assert store.records == {"new": Moved("newer"), "newer": {**A, **B}}
    assert run(StoreOps(WriteKind.UPDATE, "new", Changes({}, (b'"a"',)), 10)) is Saved.MERGED
    assert run(StoreOps(None, "", Changes({}, ()), 10, "newer")) is Saved.DONE
    assert store.records == {"new": Moved("newer")}
