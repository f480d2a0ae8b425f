"""The parity vector format: one request, one app behaviour, one expected answer.

A vector runs through the WSGI class and the ASGI class of the same middleware (the ``serve``
fixture in ``tests/conftest.py`` is parametrized ``["wsgi", "asgi"]``) by one runner,
``tests/parity/runner.py``, so a protocol difference shows up as one failing id::

    VECTORS = [
        Vector(
            id="timing-header",
            reply=Reply(chunks=(b"hi",)),
            headers={"server-timing": re.compile(r"app;dur=[0-9.]+")},
            body=b"hi",
        ),
    ]

    @pytest.mark.parametrize("vector", params(VECTORS))
    def test_timing(serve, vector):
        run_vector(serve, lambda m, app: m.TimingMiddleware(app), vector)

``Request`` is the client (and when it leaves), ``Reply`` the test app, misbehaviours included
(a crash before the start or after n pieces, a body before the start, ``write()``, an
``exc_info`` restart, a failing ``close()``, a head with CR or LF, a session store that is
down). ``wsgi_app`` and ``asgi_app`` build the same app for each protocol, the WSGI one wrapped
in ``wsgiref.validate`` unless the misbehaviour is one the validator refuses itself.
``Vector`` holds the expected answer; ``Vector.differs`` names what a protocol does otherwise,
by design (WSGI cannot take back headers it never sent; ASGI re-raises a crash).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any, Literal
from wsgiref.validate import validator

import pytest

from middleware.stores import MemoryStore
from tests.drivers import HeaderPairs, Result

TEXT = (("content-type", "text/plain; charset=utf-8"),)
Pairs = tuple[tuple[str, str], ...]


class Boom(Exception):
    """The exception test apps raise."""


class CloseFailed(Exception):
    """What a test app's ``close()`` raises (``Reply.close_raises``)."""


@dataclass
class AppContext:
    """What a test app's hooks see, the same on both protocols."""

    protocol: str
    raw: dict[str, Any]  # the environ or the scope

    @property
    def session(self) -> Any:
        key = "middleware.session" if self.protocol == "wsgi" else "session"
        return self.raw[key]

    @property
    def path(self) -> str:
        return str(self.raw["PATH_INFO" if self.protocol == "wsgi" else "path"])


Hook = Callable[[AppContext], object]
# A body piece: bytes, or made from the context when the app produces it.
Piece = bytes | Callable[[AppContext], bytes]


@dataclass(frozen=True, kw_only=True)
class Request:
    """The client. ``leaves_after=n``: it goes away after n body pieces (WSGI: the server stops
    iterating and closes the iterable; ASGI: the next ``send`` raises OSError and ``receive``
    answers ``http.disconnect``)."""

    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: HeaderPairs = field(default_factory=list)
    body: bytes = b""
    leaves_after: int | None = None


@dataclass(frozen=True, kw_only=True)
class Reply:
    """The test app: what it answers, and how it misbehaves. Every field means the same on
    both protocols; where a protocol has no such thing, the docs say what stands in for it.

    The app, step by step: ``early`` is sent; the app's work: ``before(ctx)`` runs, then
    ``session`` is merged into the session, then ``raise_at=0`` raises ``Boom``; the start is
    given (``restart``: given, then replaced), or with ``start_first`` it is given before the
    work; ``raise_after_start`` raises ``Boom`` here, before any piece (WSGI: on the first
    ``next()``, or in the app call when pieces are ``written``); the pieces ``written`` then
    ``chunks`` are sent, ``during(ctx)`` running before each and ``raise_at=n`` raising after
    the n-th; then ``close_raises``.

    - ``chunks``: the body pieces of the iterable (WSGI) or of ``http.response.body``
      messages (ASGI); a piece may be a function of the context. No chunks: one empty body.
    - ``written``: pieces sent first through ``start_response``'s ``write()`` callable (WSGI);
      ASGI sends the same bytes as body messages.
    - ``lazy``: the head in the least eager form the protocol allows. WSGI: the app returns
      its iterable at once and takes every step on the first ``next()``; ASGI: the start's
      headers are a one-shot iterator.
    - ``start_first``: the start is given before the app's work, so a ``raise_at=0`` failure
      or a session touch comes after it (WSGI: in the app call, or the first ``next()`` when
      lazy).
    - ``early``: a body piece before any start (an app bug). WSGI: the iterable yields it
      before ``start_response`` is called (so the app is lazy); ASGI: a body message before
      ``http.response.start``. The rest follows as usual.
    - ``restart``: after giving its start, the app fails and answers ``restart``'s status,
      headers and chunks instead, before any body. WSGI: ``start_response`` again with
      ``exc_info``; ASGI, where a start cannot be taken back: only ``restart``'s start is sent.
    - ``close_raises``: the app fails once its response is over. WSGI: the iterable's
      ``close()`` raises ``CloseFailed``; ASGI: the app raises it after its final message.
    - ``store_fails``: the session store behind the stack (``serve.store``) is down for this
      request. ``"read"``: the request carries the cookie of a stored session, so the app's
      first touch raises the store's ``StoreError``; ``"write"``: a new session, whose save
      fails. The runner makes the session with one request first.
    - ``before``: a hook, or several run in turn.
    - ``yields``: the app lets other requests run between its steps, its ``before`` hooks
      included (ASGI: ``await asyncio.sleep(0)``, WSGI: ``time.sleep(0)``).
    """

    status: int = 200
    headers: HeaderPairs | Pairs = TEXT
    chunks: tuple[Piece, ...] = (b"hello",)
    raise_at: int | None = None
    raise_after_start: bool = False
    before: Hook | tuple[Hook, ...] | None = None
    during: Hook | None = None
    session: Mapping[str, Any] | None = None
    written: tuple[bytes, ...] = ()
    lazy: bool = False
    start_first: bool = False
    early: bytes | None = None
    restart: Reply | None = None
    close_raises: bool = False
    store_fails: Literal["read", "write"] | None = None
    yields: bool = False

    @property
    def hooks(self) -> tuple[Hook, ...]:
        """``before`` as a tuple: one hook, several run in turn, or none."""
        if self.before is None:
            return ()
        return self.before if isinstance(self.before, tuple) else (self.before,)

    @property
    def validated(self) -> bool:
        """Whether ``wsgiref.validate`` may wrap the WSGI app: it refuses a body before the
        start and every control character in a head itself, which would hide what the
        middleware does with them."""
        heads = [self.headers] + ([self.restart.headers] if self.restart else [])
        return self.early is None and not any(_controls(head) for head in heads)


def _controls(headers: HeaderPairs | Pairs) -> bool:
    return any(re.search(r"[\x00-\x1f\x7f]", name + value) for name, value in headers)


def server_validates(reply: Reply) -> bool:
    """Whether the WSGI server side may be validated: not when the app's head holds an HTAB,
    which RFC 9110 allows and the middleware passes on, but ``wsgiref.validate`` refuses."""
    return not any("\t" in name + value for name, value in reply.headers)


@dataclass(frozen=True, kw_only=True)
class Log:
    """An expected log record: its logger, level, and the start of its message (a string) or a
    pattern it matches from the start; ``traceback``: whether it carries ``exc_info``."""

    logger: str
    level: int
    message: str | re.Pattern[str] = ""
    traceback: bool = False

    def matches(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        said = (
            self.message.match(message)
            if isinstance(self.message, re.Pattern)
            else message.startswith(self.message)
        )
        return (
            (record.name, record.levelno) == (self.logger, self.level)
            and bool(said)
            and (record.exc_info is not None) == self.traceback
        )


Expected = str | re.Pattern[str] | None


@dataclass(frozen=True, kw_only=True)
class Vector:
    """A request, the app's reply, and what the client, the server and the logs must see.

    - ``status``; ``headers``: named fields, each a string (the one field, exact), a
      compiled pattern (one field, fullmatch) or None (absent); ``head``: the exact header
      list, in order; ``body``: as the client reads it (a gzip body decoded; a cut one decodes
      to its prefix); ``chunks``: the body pieces as sent.
    - ``crash``: the exception answered by the crash rule (a plain 500 that keeps every
      layer's headers): ASGI re-raises it for the server, WSGI logs it once on
      ``middleware.errors`` and raises nothing. ``raises``: what reaches the server on both
      protocols (the response had started, the client left). Neither: nothing may.
    - ``complete``: whether the client got the whole response; None: unless something
      was raised or the client left.
    - ``logs``: every record at ``log_level`` or above on ``middleware.*`` loggers, in order,
      besides the access record and the crash rule's own; and no traceback elsewhere.
    - ``outcome``: the one access record's outcome (its status and request ID must be the
      response's); None: no access record at all.
    - ``app_called``: whether the app ran (False: the middleware answered alone).
    - ``differs``: protocol -> fields that protocol expects otherwise, by design.
    """

    id: str
    request: Request = field(default_factory=Request)
    reply: Reply = field(default_factory=Reply)
    status: int = 200
    headers: Mapping[str, Expected] = field(default_factory=dict)
    head: Pairs | None = None
    body: bytes | None = None
    chunks: tuple[bytes, ...] | None = None
    crash: type[BaseException] | None = None
    raises: type[BaseException] | None = None
    complete: bool | None = None
    logs: tuple[Log, ...] = ()
    log_level: int = logging.WARNING
    outcome: str | None = None
    app_called: bool = True
    differs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def on(self, protocol: str) -> Vector:
        """The vector as ``protocol`` expects it."""
        return replace(self, **self.differs[protocol]) if protocol in self.differs else self


def params(vectors: list[Vector]) -> list[Any]:
    """``pytest.param`` objects with the vectors' ids."""
    return [pytest.param(vector, id=vector.id) for vector in vectors]


def check(result: Result, vector: Vector, body: bytes | None = None) -> None:
    """Assert that the response in ``result`` is the one ``vector`` expects: status, headers
    and body (``body``: the body as read, when it had to be decoded)."""
    assert result.status == vector.status, (result.status, result.headers, result.body)
    for name, expected in vector.headers.items():
        values = result.header_all(name)
        if expected is None:
            assert not values, f"{name} should be absent, got {values!r}"
        elif isinstance(expected, re.Pattern):
            assert len(values) == 1, f"{name}: expected one field, got {values!r}"
            assert expected.fullmatch(values[0]), f"{name}: {values[0]!r} !~ {expected.pattern!r}"
        else:
            assert values == [expected], f"{name}: expected {expected!r}, got {values!r}"
    if vector.head is not None:
        assert result.headers == list(vector.head)
    if vector.body is not None:
        assert (result.body if body is None else body) == vector.body
    if vector.chunks is not None:
        assert result.chunks == list(vector.chunks)


class Probe:
    """Records what happened inside the test app: calls, iterables returned and closed."""

    def __init__(self) -> None:
        self.calls = 0
        self.returned = 0  # WSGI iterables
        self.closed = 0
        self.log: list[Any] = []
        self._lock = threading.Lock()

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)


class FlakyStore(MemoryStore):
    """A MemoryStore whose backend goes down while ``down`` is set."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("store unreachable")

    def get(self, key: str) -> bytes | None:
        self._check()
        return super().get(key)

    def add(self, key: str, value: bytes, ttl: int) -> bool:
        self._check()
        return super().add(key, value, ttl)

    def replace(self, key: str, value: bytes, ttl: int) -> bool:
        self._check()
        return super().replace(key, value, ttl)

    def touch(self, key: str, ttl: int) -> bool:
        self._check()
        return super().touch(key, ttl)

    def delete(self, key: str) -> None:
        self._check()
        super().delete(key)


# --- WSGI ---------------------------------------------------------------------------------------


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _work(reply: Reply, ctx: AppContext) -> None:
    """``before``, ``session`` and a failure before the start: the app's own work."""
    for hook in reply.hooks:
        hook(ctx)
        _pause(reply)
    if reply.session is not None:
        ctx.session.update(reply.session)
        _pause(reply)
    if reply.raise_at == 0:
        raise Boom("before the response")


def _pause(reply: Reply) -> None:
    if reply.yields:
        time.sleep(0)


def _piece(reply: Reply, ctx: AppContext, piece: Piece) -> bytes:
    if reply.during is not None:
        reply.during(ctx)
    _pause(reply)
    return piece(ctx) if callable(piece) else piece


def wsgi_app(reply: Reply, probe: Probe | None = None) -> Callable[..., Any]:
    """The WSGI version of ``reply``, wrapped in ``wsgiref.validate`` when it allows."""
    probe = probe or Probe()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        probe.count("calls")
        ctx = AppContext("wsgi", environ)
        _pause(reply)
        body = _Body(reply, ctx, probe, start_response)
        if not (reply.lazy or reply.early is not None):
            body.start()
        probe.count("returned")
        return body

    return validator(app) if reply.validated else app


class _Body:
    """The app's iterable; a lazy app starts on the first ``next()``."""

    def __init__(
        self, reply: Reply, ctx: AppContext, probe: Probe, start_response: Callable[..., Any]
    ) -> None:
        self.reply, self.ctx, self.probe, self.start_response = reply, ctx, probe, start_response
        self.chunks = reply.chunks if reply.restart is None else reply.restart.chunks
        self.early = reply.early
        self.started = False
        self.sent = 0

    def start(self) -> None:
        reply, ctx = self.reply, self.ctx
        self.started = True
        if not reply.start_first:
            _work(reply, ctx)
        write = self.start_response(_status(reply.status), list(reply.headers))
        if reply.restart is not None:
            try:
                raise Boom("the first answer was replaced")
            except Boom:
                again = reply.restart
                write = self.start_response(
                    _status(again.status), list(again.headers), sys.exc_info()
                )
        if reply.start_first:
            _work(reply, ctx)
        for piece in reply.written:
            self.fail_here()
            write(_piece(reply, ctx, piece))
            self.sent += 1

    def fail_here(self) -> None:
        if self.reply.raise_at is not None and self.sent == self.reply.raise_at:
            raise Boom(f"after {self.sent} pieces")
        if self.reply.raise_after_start and self.sent == 0:
            raise Boom("after the start")

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.early is not None:
            early, self.early = self.early, None
            return early
        if not self.started:
            self.start()
        self.fail_here()
        index = self.sent - len(self.reply.written)
        if index >= len(self.chunks):
            raise StopIteration
        chunk = _piece(self.reply, self.ctx, self.chunks[index])
        self.sent += 1
        return chunk

    def close(self) -> None:
        self.probe.count("closed")
        if self.reply.close_raises:
            raise CloseFailed("close() failed")


# --- ASGI ---------------------------------------------------------------------------------------


def _raw(headers: HeaderPairs | Pairs) -> list[tuple[bytes, bytes]]:
    return [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]


def asgi_app(reply: Reply, probe: Probe | None = None) -> Callable[..., Any]:
    """The ASGI version of ``reply``."""
    probe = probe or Probe()
    answer = reply if reply.restart is None else reply.restart

    async def pause() -> None:
        if reply.yields:
            await asyncio.sleep(0)

    async def work(ctx: AppContext) -> None:
        for hook in reply.hooks:
            hook(ctx)
            await pause()
        if reply.session is not None:
            ctx.session.update(reply.session)
            await pause()
        if reply.raise_at == 0:
            raise Boom("before the response")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        probe.count("calls")
        ctx = AppContext("asgi", scope)
        await pause()
        if reply.early is not None:
            await send({"type": "http.response.body", "body": reply.early, "more_body": True})
        headers = _raw(answer.headers)
        start = {
            "type": "http.response.start",
            "status": answer.status,
            "headers": iter(headers) if reply.lazy else headers,
        }
        if not reply.start_first:
            await work(ctx)
        await send(start)
        if reply.start_first:
            await work(ctx)
        if reply.raise_after_start:
            raise Boom("after the start")
        pieces = (*reply.written, *answer.chunks)
        for index, piece in enumerate(pieces):
            if reply.raise_at is not None and index == reply.raise_at:
                raise Boom(f"after {index} pieces")
            if reply.during is not None:
                reply.during(ctx)
            await pause()
            data = piece(ctx) if callable(piece) else piece
            more = index < len(pieces) - 1
            await send({"type": "http.response.body", "body": data, "more_body": more})
        if reply.raise_at is not None and reply.raise_at >= len(pieces):
            raise Boom(f"after {len(pieces)} pieces")
        if not pieces:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        if reply.close_raises:
            raise CloseFailed("failed after the response")

    return app
