"""What a session store keeps, what one response asks of it, and what it answers.

The types both ``middleware.core.sessions`` (a commit carries its ``StoreOps``) and
``middleware.core.session_store`` (which decides them) name, kept apart so that neither module
imports the other back; ``middleware.stores`` implements them.

A record is the session's JSON object kept member by member (``Members``): each member's name is
the key as a JSON string (``b'"user"'``), its value the value's JSON (``b'42'``). A store reads
it whole, as the JSON object (``record_json``), and changes it member by member (``Changes``).
Under the old ID of a regenerated session it keeps a forwarding record (``Moved``) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import NamedTuple

__all__ = [
    "Changes",
    "Held",
    "Members",
    "Moved",
    "Record",
    "Saved",
    "StoreError",
    "StoreOps",
    "WriteKind",
    "merged",
    "record_json",
]

# A session's record: each member of its JSON object, name (a JSON string) -> value (JSON).
Members = dict[bytes, bytes]


class Moved(NamedTuple):
    """What a store holds under the old ID of a regenerated session: where it moved."""

    to: str


# What a store reads under a session ID: the record as its JSON object, a forwarding record, or
# nothing.
Record = bytes | Moved | None
# What a store hands over when it moves a record: its members, a forwarding record, or nothing.
Held = Members | Moved | None


class Changes(NamedTuple):
    """The members one request wrote (name -> value) and deleted (names)."""

    written: Members
    deleted: tuple[bytes, ...]


class StoreError(Exception):
    """A session store could not be reached or failed (Redis down, a timeout, ...).

    The middleware answers 503 and logs it on ``middleware.sessions``; an app that touches a
    session whose record could not be fetched gets this exception, never an empty session.
    """


class WriteKind(Enum):
    """The write a response makes to the store."""

    ADD = "add"  # every member, under a new ID, only if the ID is free
    UPDATE = "update"  # the changed members, only if the record still exists
    MOVE = "move"  # regenerate(): the record to a new ID, the old ID forwarding to it
    TOUCH = "touch"  # the record's lifetime extended, only if it still exists


class StoreOps(NamedTuple):
    """The store operations of one response, in order: ``write`` then ``delete``.

    - ``write``: a ``WriteKind`` or None; ``id`` (the new ID for ADD and MOVE), ``changes``
      (every member for ADD; the changed ones for UPDATE and MOVE) and ``ttl`` (seconds) go
      with it. MOVE also has ``source``, the ID the record moves from.
    - ``delete``: an ID whose record is deleted once the write succeeded (the cleared one, or
      one whose record was unreadable), or None.

    ``perform`` in ``middleware.stores`` runs them and answers a ``Saved`` for
    ``StoredSession.settle``.
    """

    write: WriteKind | None
    id: str
    changes: Changes
    ttl: int
    delete: str | None = None
    source: str | None = None


class Saved(Enum):
    """What the store did with a response's ``StoreOps``."""

    DONE = "done"  # as asked
    EMPTIED = "emptied"  # the deletions left no member: the record is gone
    GONE = "gone"  # no record any more (a logout elsewhere, its expiry)
    TAKEN = "taken"  # ADD found the new ID taken
    MERGED = "merged"  # the ID had moved (regenerate()); the changes went to the new ID
    DROPPED = "dropped"  # the ID had moved, and nothing could be saved there


def record_json(members: Mapping[bytes, bytes]) -> bytes:
    """The JSON object whose members are ``members``."""
    return b"{%b}" % b",".join(map(b":".join, members.items()))


def merged(members: Mapping[bytes, bytes], changes: Changes) -> Members:
    """``members`` with ``changes`` applied, as a new record."""
    result = dict(members)
    for name in changes.deleted:
        result.pop(name, None)
    result.update(changes.written)
    return result
