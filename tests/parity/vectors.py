"""The parity vector format: one request, one app behaviour, one expected answer.

A vector runs through the WSGI class and the ASGI class of the same middleware (the ``serve``
fixture in ``tests/conftest.py`` is parametrized ``["wsgi", "asgi"]``), so a protocol
difference shows up as one failing id::

    VECTORS = [
        Vector(
            id="timing-header",
            reply=Reply(chunks=(b"hi",)),
            status=200,
            headers={"server-timing": re.compile(r"app;dur=[0-9.]+")},
            body=b"hi",
        ),
    ]

    @pytest.mark.parametrize("vector", params(VECTORS))
    def test_timing(serve, vector):
        check(serve(lambda m, app: m.TimingMiddleware(app), vector), vector)

``Reply`` describes the test app once; ``wsgi_app`` and ``asgi_app`` build the same app for
each protocol (the WSGI one wrapped in ``wsgiref.validate``). Expected header values are a
string (exact), a compiled pattern (fullmatch), or None (the header must be absent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from wsgiref.validate import validator

import pytest

from tests.drivers import HeaderPairs, Result

TEXT = (("content-type", "text/plain; charset=utf-8"),)


class Boom(Exception):
    """The exception test apps raise."""


@dataclass
class AppContext:
    """What a test app's hooks see, the same on both protocols."""

    protocol: str
    raw: dict[str, Any]  # the environ or the scope

    @property
    def session(self) -> Any:
        key = "middleware.session" if self.protocol == "wsgi" else "session"
        return self.raw[key]


Hook = Callable[[AppContext], object]


@dataclass(frozen=True, kw_only=True)
class Request:
    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: HeaderPairs = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True, kw_only=True)
class Reply:
    """The test app: its status, headers and body chunks, and where it fails.

    ``raise_at=None`` never raises, ``0`` raises before the response starts, ``n`` raises
    after sending n chunks. ``before`` runs before the response starts, ``during(ctx)`` before
    each chunk is produced (inside the WSGI iterable, or between ASGI sends).
    """

    status: int = 200
    headers: HeaderPairs | tuple[tuple[str, str], ...] = TEXT
    chunks: tuple[bytes, ...] = (b"hello",)
    raise_at: int | None = None
    before: Hook | None = None
    during: Hook | None = None


@dataclass(frozen=True, kw_only=True)
class Vector:
    id: str
    request: Request = field(default_factory=Request)
    reply: Reply = field(default_factory=Reply)
    status: int = 200
    headers: Mapping[str, str | re.Pattern[str] | None] = field(default_factory=dict)
    body: bytes | None = None


def params(vectors: list[Vector]) -> list[Any]:
    """``pytest.param`` objects with the vectors' ids."""
    return [pytest.param(vector, id=vector.id) for vector in vectors]


def check(result: Result, vector: Vector) -> None:
    """Assert that ``result`` is what ``vector`` expects."""
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
    if vector.body is not None:
        assert result.body == vector.body


class Probe:
    """Records what happened inside the test app (for close() and hook assertions)."""

    def __init__(self) -> None:
        self.closed = 0
        self.log: list[Any] = []


def wsgi_app(reply: Reply, probe: Probe | None = None) -> Callable[..., Any]:
    """The WSGI version of ``reply``, wrapped in ``wsgiref.validate``."""
    probe = probe or Probe()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        ctx = AppContext("wsgi", environ)
        if reply.before is not None:
            reply.before(ctx)
        if reply.raise_at == 0:
            raise Boom("before the response")
        status = f"{reply.status} {HTTPStatus(reply.status).phrase}"
        start_response(status, [(n, v) for n, v in reply.headers])
        return _Body(reply, ctx, probe)

    return validator(app)


class _Body:
    def __init__(self, reply: Reply, ctx: AppContext, probe: Probe) -> None:
        self.reply, self.ctx, self.probe = reply, ctx, probe
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        reply = self.reply
        if reply.raise_at is not None and self.sent == reply.raise_at:
            raise Boom(f"after {self.sent} chunks")
        if self.sent >= len(reply.chunks):
            raise StopIteration
        if reply.during is not None:
            reply.during(self.ctx)
        chunk = reply.chunks[self.sent]
        self.sent += 1
        return chunk

    def close(self) -> None:
        self.probe.closed += 1


def asgi_app(reply: Reply, probe: Probe | None = None) -> Callable[..., Any]:
    """The ASGI version of ``reply``."""
    probe = probe or Probe()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        ctx = AppContext("asgi", scope)
        if reply.before is not None:
            reply.before(ctx)
        if reply.raise_at == 0:
            raise Boom("before the response")
        headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        last = len(reply.chunks) - 1
        for index, chunk in enumerate(reply.chunks):
            if reply.raise_at is not None and index == reply.raise_at:
                raise Boom(f"after {index} chunks")
            if reply.during is not None:
                reply.during(ctx)
            await send({"type": "http.response.body", "body": chunk, "more_body": index < last})
        if reply.raise_at is not None and reply.raise_at >= len(reply.chunks):
            raise Boom(f"after {len(reply.chunks)} chunks")
        if not reply.chunks:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app
