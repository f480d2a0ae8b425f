"""Fuzz every middleware's raw request entry points, on both protocols, with atheris.

    .venv/bin/python bench/fuzz.py --seconds 60              # coverage-guided (atheris)
    .venv/bin/python bench/fuzz.py --seconds 60 --engine random   # without atheris
    .venv/bin/python bench/fuzz.py --replay crash-0a1b2c...  # re-run one input, with traceback

Each input is decoded (deterministically, so a saved input replays exactly) into one request
and one app behaviour: the protocol (WSGI or ASGI), the target (each middleware alone,
CompressionMiddleware with request decoding, SessionMiddleware with a MemoryStore, and all
five composed), the method, raw path and query bytes, up to 12 request headers (the fields
the middleware read, built from templates with fuzzed parts or as raw bytes: Origin,
Accept-Encoding, Cookie with real, tampered or junk session tokens, X-Request-ID, Forwarded,
X-Forwarded-For, Access-Control-Request-*, Content-Encoding, User-Agent, Referer, and arbitrary
names), the request body (raw, or really
gzip/br/zstd/deflate-encoded), and what the app does (status, Content-Type, Content-Length,
Vary, Cache-Control, ETag, its body chunks, session reads and writes, a Server-Timing metric
with a fuzzed description, raising before or during the body, ``write()``), and for ASGI a
client that disconnects after n body messages.

The request is served in process: WSGI through ``wsgiref.validate`` on both sides of the
stack (so every response is checked against PEP 3333), ASGI through a recording ``send`` on one
event loop. After every request the harness asserts:

- no exception escapes but the app's own (and, on ASGI, the OSError of a client gone);
- the status is 100-599, and 500 only when the app raised; 400/413/415 only where documented;
- header names are tokens (lower-case bytes on ASGI), values carry no control character but
  HTAB; Content-Length, Content-Encoding, X-Request-ID and Access-Control-Allow-Origin appear
  at most once; a Content-Length matches the body; ASGI messages come in a valid order;
- a Content-Encoding body decodes to exactly the bytes the app sent;
- Access-Control-Allow-Origin only ever names an allowed origin, and only the request's;
- the session the app sees is empty or exactly what the harness signed (never forged data;
  with a store, always empty: the harness never signs a session ID);
  a Set-Cookie appears only when the app touched the session, never on a 5xx;
- one request ID, safe (visible ASCII, at most 200), the client's only when it was safe;
  exactly one access record carrying it; its line has no control character and, in JSON,
  parses to the record's fields;
- the WSGI iterable was closed exactly once; no asyncio task is left behind.

A failed assertion is a crash: libFuzzer saves the input as ``crash-<sha1>`` in the artifact
directory (``--artifacts``, default ``/tmp/gateway-middleware-fuzz``) for ``--replay``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import json
import logging
import os
import random
import re
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote
from wsgiref.validate import WSGIWarning, validator

import brotli

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    import atheris
except ImportError:  # the random engine still works
    atheris = None

try:
    import zstandard
except ImportError:
    zstandard = None


def _import_middleware() -> tuple[Any, Any, Any, Any]:
    import middleware
    import middleware.asgi
    import middleware.core.session_codec
    import middleware.stores
    import middleware.timing
    import middleware.wsgi

    return middleware, middleware.wsgi, middleware.asgi, middleware.timing


if atheris is not None and "--worker" in sys.argv and "random" not in sys.argv:
    # Coverage feedback from the package under test only.
    with atheris.instrument_imports(include=["middleware"]):
        _mw, _wsgi, _asgi, _timing = _import_middleware()
else:
    _mw, _wsgi, _asgi, _timing = _import_middleware()

from middleware.core.session_codec import SessionCodec  # noqa: E402
from middleware.stores import MemoryStore  # noqa: E402

SECRET = "fuzz-secret"
CODEC = SessionCodec(SECRET)
ALLOWED_ORIGINS = ("https://app.example", "null")
ORIGIN_REGEX = r"https://[a-z]+\.example\.org"
_ORIGIN_RE = re.compile(ORIGIN_REGEX)
_WELL_FORMED_ORIGIN = re.compile(
    rb"[a-z][a-z0-9+.\-]*://(?:[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?"
)
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAFE_ID = re.compile(r"[\x21-\x7e]{1,200}")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class Boom(Exception):
    """The app's own exception."""


# --- input decoding ------------------------------------------------------------------------


class Data:
    """Reads decisions from the fuzzer's bytes; past the end every read gives zeros."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.raw):
            return 0
        value = self.raw[self.pos]
        self.pos += 1
        return value

    def below(self, n: int) -> int:
        if n <= 1:
            return 0
        if n <= 256:
            return self.byte() % n
        return (self.byte() << 8 | self.byte()) % n

    def flag(self) -> bool:
        return self.byte() & 1 == 1

    def pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[self.below(len(options))]

    def bytes(self, limit: int) -> bytes:
        size = self.below(limit + 1)
        out = self.raw[self.pos : self.pos + size]
        self.pos += len(out)
        return out

    def text(self, limit: int) -> str:
        return self.bytes(limit).decode("utf-8", "replace")


METHODS = ("GET", "GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "get", "PROPFIND")
STATUSES = (200, 200, 201, 204, 206, 301, 304, 400, 404, 503)
CONTENT_TYPES = (
    "text/html; charset=utf-8",
    "application/json",
    "text/event-stream",
    "application/x-ndjson",
    "image/png",
    "image/svg+xml",
    "application/octet-stream",
    "TEXT/PLAIN",
    "text/plain;charset=x",
)
CODINGS = (b"gzip", b"br", b"zstd", b"identity", b"*", b"x-gzip", b"deflate", b"compress", b"")
Q_VALUES = (b"", b";q=0", b";q=0.5", b";q=1", b";q=1.000", b";q=0.001", b";q=2", b";q=", b";Q=0.9")
ORIGINS = (
    b"https://app.example",
    b"null",
    b"https://evil.example",
    b"https://api.example.org",
    b"https://API.example.org",
    b"https://app.example.org.evil.example",
    b"https://app.example/",
    b"http://app.example",
    b"https://app.example:443",
)
HEADER_NAMES = (
    b"origin",
    b"accept-encoding",
    b"cookie",
    b"x-request-id",
    b"forwarded",
    b"x-forwarded-for",
    b"access-control-request-method",
    b"access-control-request-headers",
    b"access-control-request-private-network",
    b"content-encoding",
    b"user-agent",
    b"referer",
    b"content-type",
    b"vary",
)


@dataclass
class Plan:
    """One fuzz case: the request and what the app does."""

    protocol: str
    target: str
    method: str
    path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    encoded_body: bytes  # what goes on the wire (body encoded when Content-Encoding says so)
    peer: str | None
    status: int
    response_headers: list[tuple[str, str]]
    chunks: list[bytes]
    raise_at: int | None
    session_op: str
    session_value: str
    signed: list[dict[str, Any]]  # the data of every valid session token the harness sent
    metric_description: str | None
    use_write: bool
    as_list: bool
    disconnect_after: int | None
    expected_body: bytes = field(init=False)

    def __post_init__(self) -> None:
        self.expected_body = b"".join(self.chunks)


def _accept_encoding(data: Data) -> bytes:
    members = [data.pick(CODINGS) + data.pick(Q_VALUES) for _ in range(data.below(5))]
    separator = data.pick((b", ", b",", b" ,\t", b";"))
    return separator.join(members)


def _cookie(data: Data, signed: list[dict[str, Any]]) -> bytes:
    kind = data.below(5)
    if kind == 0:
        return data.bytes(120)
    values = {"user": data.text(12)}
    age = data.pick((0, 0, 10, 700_000, 2_000_000, -3600))
    token = original = CODEC.encode(values, now=int(time.time()) - age)
    if kind >= 2:
        # Tampered: flip, insert or cut bytes somewhere in the token.
        spot = data.below(len(token))
        action = data.below(3)
        if action == 0:
            token = token[:spot] + bytes([token[spot] ^ (1 + data.below(255))]) + token[spot + 1 :]
        elif action == 1:
            token = token[:spot] + data.bytes(4) + token[spot:]
        else:
            token = token[:spot]
    prefix = data.pick((b"session=", b"a=1; session=", b"session=x; session=", b"Session="))
    if token == original and 0 <= age <= 1_209_600 and prefix != b"Session=":
        signed.append(values)
    return prefix + token + data.pick((b"", b"; b=2", b";", b" "))


def _header_value(data: Data, name: bytes, signed: list[dict[str, Any]]) -> bytes:
    if data.below(4) == 0:
        return data.bytes(64)
    if name == b"origin":
        return data.pick(ORIGINS) if data.flag() else b"https://" + data.bytes(16)
    if name == b"accept-encoding":
        return _accept_encoding(data)
    if name == b"cookie":
        return _cookie(data, signed)
    if name == b"x-request-id":
        return data.pick((b"abc-123", b"a" * 200, b"a" * 201, b"id with space", b"caf\xc3\xa9"))
    if name in (b"forwarded", b"x-forwarded-for"):
        hops = [
            data.pick((b"203.0.113.9", b"10.0.0.2", b"[2001:db8::1]:80", b"unknown", b"_x", b""))
            for _ in range(data.below(4))
        ]
        if name == b"forwarded":
            hops = [b"for=" + data.pick((b"", b'"')) + hop for hop in hops]
        return b", ".join(hops)
    if name == b"access-control-request-method":
        return data.pick((b"GET", b"POST", b"PUT", b"get", b"DELETE", b"X Y", b""))
    if name == b"access-control-request-headers":
        return data.pick((b"x-custom", b"content-type, X-Custom", b"x-other", b"a b", b",,", b""))
    if name == b"access-control-request-private-network":
        return data.pick((b"true", b"TRUE", b"false"))
    if name == b"content-encoding":
        return data.pick((b"gzip", b"br", b"zstd", b"deflate", b"x-gzip", b"gzip, gzip, gzip"))
    return data.bytes(32)


def _encode_body(body: bytes, coding: bytes | None, data: Data) -> bytes:
    if coding is None or data.below(4) == 0:
        return body
    if coding in (b"gzip", b"x-gzip"):
        return gzip.compress(body)
    if coding == b"br":
        return brotli.compress(body)
    if coding == b"zstd" and zstandard is not None:
        return zstandard.ZstdCompressor().compress(body)
    if coding == b"deflate":
        return zlib.compress(body)
    return body


TARGETS = (
    "compression",
    "gzip",
    "decompress",
    "cors",
    "sessions",
    "stored",
    "logging",
    "timing",
    "stack",
)


def decode(raw: bytes) -> Plan:
    data = Data(raw)
    protocol = "asgi" if data.flag() else "wsgi"
    target = data.pick(TARGETS)
    method = data.pick(METHODS)
    path = b"/" + data.bytes(24)
    query = data.bytes(16)
    headers: list[tuple[bytes, bytes]] = []
    signed: list[dict[str, Any]] = []
    for _ in range(data.below(13)):
        if data.below(6) == 0:
            name = data.bytes(12).lower()
            if not _TOKEN.fullmatch(name) or name in (b"content-length", b"content-type"):
                continue
        else:
            name = data.pick(HEADER_NAMES)
        headers.append((name, _header_value(data, name, signed)))
    body = data.bytes(96) * (1 + data.below(8))
    codings = [v for n, v in headers if n == b"content-encoding"]
    encoded = _encode_body(body, codings[0] if len(codings) == 1 else None, data)
    peer = data.pick(("127.0.0.1", "10.0.0.1", "2001:db8::2", None))

    status = data.pick(STATUSES)
    response_headers: list[tuple[str, str]] = []
    if status not in (204, 304):
        response_headers.append(("Content-Type", data.pick(CONTENT_TYPES)))
    chunks = (
        []
        if status in (204, 304) or method == "HEAD"
        else [data.bytes(64) * (1 + data.below(40)) for _ in range(data.below(4))]
    )
    if data.below(3) == 0 and status not in (204, 304):
        length = sum(map(len, chunks))
        response_headers.append(("Content-Length", str(length + data.pick((0, 0, 0, 1)))))
    if data.flag():
        response_headers.append(("Vary", data.pick(("Cookie", "*", "accept-encoding", "Origin"))))
    if data.below(4) == 0:
        response_headers.append(("Cache-Control", data.pick(("no-transform", "max-age=0"))))
    if data.below(4) == 0:
        response_headers.append(("ETag", data.pick(('"v1"', 'W/"v1"'))))
    if data.below(4) == 0:
        response_headers.append(("X-Request-ID", "app-set"))
    if data.below(5) == 0:
        response_headers.append(("Access-Control-Allow-Origin", "*"))
    raise_at = data.pick((None, None, None, 0, 1, 2))
    session_op = data.pick(("none", "read", "write", "clear"))
    session_value = data.text(24)
    description = data.text(24) if data.flag() else None
    use_write = data.below(4) == 0
    as_list = data.flag()
    disconnect_after = data.pick((None, None, None, 1, 2))
    if method == "HEAD" and any(n == "Content-Length" for n, _ in response_headers):
        # A HEAD answer declares the GET's length; the harness keeps the two consistent.
        response_headers = [(n, v) for n, v in response_headers if n != "Content-Length"]
    return Plan(
        protocol=protocol,
        target=target,
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        encoded_body=encoded,
        peer=peer,
        status=status,
        response_headers=response_headers,
        chunks=chunks,
        raise_at=raise_at,
        session_op=session_op,
        session_value=session_value,
        signed=signed,
        metric_description=description,
        use_write=use_write,
        as_list=as_list,
        disconnect_after=disconnect_after,
    )


# --- the stacks under test -----------------------------------------------------------------


def _build(m: Any, target: str, app: Any) -> Any:
    cors = {
        "allow_origins": list(ALLOWED_ORIGINS),
        "allow_origin_regex": ORIGIN_REGEX,
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["x-custom"],
        "allow_credentials": True,
        "expose_headers": ["x-request-id"],
    }
    if target == "compression":
        return m.CompressionMiddleware(app, minimum_size=16)
    if target == "gzip":
        return m.GZipMiddleware(app, minimum_size=16)
    if target == "decompress":
        return m.CompressionMiddleware(
            app, minimum_size=16, decompress_requests=True, max_request_size=512
        )
    if target == "cors":
        return m.CORSMiddleware(app, **cors)
    if target == "sessions":
        return m.SessionMiddleware(app, secret_key=SECRET)
    if target == "stored":
        # One store per protocol for the whole run, as a server keeps it.
        return m.SessionMiddleware(app, secret_key=SECRET, store=STORES[m.__name__])
    if target == "logging":
        return m.RequestLoggingMiddleware(
            app, logger="fuzz.access", trusted_proxies=["10.0.0.0/8", "2001:db8::/32"]
        )
    if target == "timing":
        return m.TimingMiddleware(app, timing_allow_origin="*")
    return m.compose(
        m.Middleware(m.RequestLoggingMiddleware, logger="fuzz.access", format="json"),
        m.TimingMiddleware,
        m.Middleware(m.CORSMiddleware, **cors),
        m.Middleware(m.SessionMiddleware, secret_key=SECRET),
        m.Middleware(m.CompressionMiddleware, minimum_size=16),
    )(app)


STORES = {name: MemoryStore(max_entries=1000) for name in ("middleware.wsgi", "middleware.asgi")}

LAYERS = {
    "compression": {"compression"},
    "gzip": {"compression"},
    "decompress": {"compression", "decompress"},
    "cors": {"cors"},
    "sessions": {"sessions"},
    "stored": {"sessions", "stored"},
    "logging": {"logging"},
    "timing": {"timing"},
    "stack": {"compression", "cors", "sessions", "logging", "timing"},
}


class Seen:
    """What the app observed, filled in by the app itself."""

    def __init__(self) -> None:
        self.called = False
        self.returned = False  # the WSGI app returned an iterable (so it must be closed)
        self.closed = 0
        self.body: bytes | None = None
        self.session: dict[str, Any] | None = None
        self.raised = False
        self.bytes_sent = 0


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


ACCESS = Capture()
OTHER = Capture()


def _setup_logging() -> None:
    access = logging.getLogger("fuzz.access")
    access.handlers[:] = [ACCESS]
    access.setLevel(logging.INFO)
    access.propagate = False
    for name in ("middleware.errors", "middleware.sessions", "middleware.access"):
        other = logging.getLogger(name)
        other.handlers[:] = [OTHER]
        other.setLevel(logging.DEBUG)
        other.propagate = False
    warnings.simplefilter("ignore", WSGIWarning)


def _session_step(plan: Plan, session: Any, seen: Seen) -> None:
    if session is None or plan.session_op == "none":
        return
    seen.session = dict(session.items())
    if plan.session_op == "write":
        session["k"] = plan.session_value
    elif plan.session_op == "clear":
        session.clear()


def _app_step(plan: Plan, session: Any, seen: Seen) -> None:
    _session_step(plan, session, seen)
    if plan.metric_description is not None:
        _timing.record("fuzz", 1.5, plan.metric_description)
    if plan.raise_at == 0:
        seen.raised = True
        raise Boom("before the response")


def _status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def wsgi_app(plan: Plan, seen: Seen) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.called = True
        length = int(environ.get("CONTENT_LENGTH") or 0)
        seen.body = environ["wsgi.input"].read(length) if length else b""
        _app_step(plan, environ.get("middleware.session"), seen)
        write = start_response(_status_line(plan.status), list(plan.response_headers))
        seen.returned = True
        if plan.use_write and plan.chunks:
            write(plan.chunks[0])
            seen.bytes_sent = len(plan.chunks[0])
            return _Body(plan, seen, first=1)
        if plan.as_list and plan.raise_at is None:
            seen.bytes_sent = len(plan.expected_body)
            return _ListBody(plan.chunks, seen)
        return _Body(plan, seen, first=0)

    return validator(app)


class _ListBody(list[bytes]):
    def __init__(self, chunks: list[bytes], seen: Seen) -> None:
        super().__init__(chunks)
        self.seen = seen

    def close(self) -> None:
        self.seen.closed += 1


class _Body:
    def __init__(self, plan: Plan, seen: Seen, first: int) -> None:
        self.plan, self.seen, self.index = plan, seen, first

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        plan = self.plan
        # raise_at=n: raise in place of chunk n-1, or after the last chunk when there are fewer.
        if plan.raise_at and self.index == min(plan.raise_at - 1, len(plan.chunks)):
            self.seen.raised = True
            raise Boom("during the body")
        if self.index >= len(plan.chunks):
            raise StopIteration
        chunk = plan.chunks[self.index]
        self.index += 1
        self.seen.bytes_sent += len(chunk)
        return chunk

    def close(self) -> None:
        self.seen.closed += 1


def asgi_app(plan: Plan, seen: Seen) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.called = True
        parts = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        seen.body = b"".join(parts)
        _app_step(plan, scope.get("session"), seen)
        headers = [
            (n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in plan.response_headers
        ]
        await send({"type": "http.response.start", "status": plan.status, "headers": headers})
        last = len(plan.chunks) - 1
        for index, chunk in enumerate(plan.chunks):
            if plan.raise_at is not None and plan.raise_at and index == plan.raise_at - 1:
                seen.raised = True
                raise Boom("during the body")
            await send({"type": "http.response.body", "body": chunk, "more_body": index < last})
            seen.bytes_sent += len(chunk)
        if plan.raise_at is not None and plan.raise_at and plan.raise_at - 1 >= len(plan.chunks):
            seen.raised = True
            raise Boom("after the body")
        if not plan.chunks:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


APPS: dict[tuple[str, str], Any] = {}


class _Dispatch:
    """The app at the bottom of every stack: runs the current plan's app."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.current: Any = None

    def __call__(self, *args: Any) -> Any:
        return self.current(*args)


class _WsgiDispatch(_Dispatch):
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.current(environ, start_response)


class _AsgiDispatch(_Dispatch):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.current(scope, receive, send)


WSGI_BOTTOM = _WsgiDispatch("wsgi")
ASGI_BOTTOM = _AsgiDispatch("asgi")


def _stacks() -> None:
    for target in TARGETS:
        APPS["wsgi", target] = validator(_build(_wsgi, target, WSGI_BOTTOM))
        APPS["asgi", target] = _build(_asgi, target, ASGI_BOTTOM)


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    complete: bool
    error: BaseException | None
    messages: list[dict[str, Any]] = field(default_factory=list)


def serve_wsgi(plan: Plan, seen: Seen) -> Response:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": plan.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": plan.path.decode("latin-1"),
        "QUERY_STRING": plan.query.decode("latin-1"),
        "SERVER_NAME": "fuzz",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(plan.encoded_body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if plan.peer is not None:
        environ["REMOTE_ADDR"] = plan.peer
    if plan.encoded_body:
        environ["CONTENT_LENGTH"] = str(len(plan.encoded_body))
    for name, value in plan.headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        key = key if key == "CONTENT_TYPE" else "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = environ[key] + "," + text if key in environ else text
    state: dict[str, Any] = {"status": None, "headers": None, "sent": False}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None:
            try:
                if state["sent"]:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif state["status"] is not None:
            raise AssertionError("start_response called twice without exc_info")
        state["status"], state["headers"] = status, headers
        return write

    def write(data: bytes) -> None:
        assert state["status"] is not None, "write() before start_response"
        state["sent"] = True
        chunks.append(data)

    WSGI_BOTTOM.current = wsgi_app(plan, seen)
    error: BaseException | None = None
    complete = False
    iterable = APPS["wsgi", plan.target](environ, start_response)
    try:
        for chunk in iterable:
            if chunk:
                state["sent"] = True
                chunks.append(chunk)
        complete = True
    except Boom as exc:
        error = exc
    finally:
        iterable.close()
    if state["status"] is None:
        raise AssertionError(f"the response never started (error: {error!r})")
    headers = []
    for name, value in state["headers"]:
        assert isinstance(name, str) and isinstance(value, str), (name, value)
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return Response(int(state["status"][:3]), headers, b"".join(chunks), complete, error)


async def _serve_asgi(plan: Plan, seen: Seen) -> Response:
    headers = list(plan.headers)
    if plan.encoded_body:
        headers.append((b"content-length", str(len(plan.encoded_body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": plan.method,
        "scheme": "http",
        "path": plan.path.decode("utf-8", "replace"),
        "raw_path": quote(plan.path).encode("ascii"),
        "query_string": plan.query,
        "root_path": "",
        "headers": headers,
        "client": None if plan.peer is None else (plan.peer, 50000),
        "server": ("fuzz", 80),
        "extensions": {},
        "state": {},
    }
    pending = [plan.encoded_body]
    messages: list[dict[str, Any]] = []
    gone = False

    async def receive() -> dict[str, Any]:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal gone
        _check_order(messages, message)
        if gone:
            raise OSError("client disconnected")
        messages.append(message)
        bodies = sum(1 for m in messages if m["type"] == "http.response.body")
        if plan.disconnect_after is not None and bodies >= plan.disconnect_after:
            if not _final(messages):
                gone = True

    ASGI_BOTTOM.current = asgi_app(plan, seen)
    error: BaseException | None = None
    try:
        await APPS["asgi", plan.target](scope, receive, send)
    except (Boom, OSError) as exc:
        error = exc
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    if start is None:
        raise AssertionError(f"no http.response.start (error: {error!r})")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return Response(
        start["status"], list(start.get("headers", [])), body, _final(messages), error, messages
    )


def _final(messages: list[dict[str, Any]]) -> bool:
    last = messages[-1] if messages else None
    return bool(last and last["type"] == "http.response.body" and not last.get("more_body", False))


def _check_order(sent: list[dict[str, Any]], message: dict[str, Any]) -> None:
    kind = message["type"]
    started = any(m["type"] == "http.response.start" for m in sent)
    if kind == "http.response.start":
        assert not started, "http.response.start sent twice"
        assert type(message["status"]) is int
        for name, value in message.get("headers", ()):
            assert type(name) is bytes and type(value) is bytes, (name, value)
            assert name == name.lower(), f"header name not lower-case: {name!r}"
    elif kind == "http.response.body":
        assert started, "body before http.response.start"
        assert not _final(sent), "body after the response ended"
        assert type(message.get("body", b"")) is bytes
    else:
        raise AssertionError(f"unexpected message {message!r}")


LOOP: asyncio.AbstractEventLoop | None = None


def serve_asgi(plan: Plan, seen: Seen) -> Response:
    global LOOP
    if LOOP is None:
        LOOP = asyncio.new_event_loop()
    response = LOOP.run_until_complete(_serve_asgi(plan, seen))
    left = [task for task in asyncio.all_tasks(LOOP) if not task.done()]
    assert not left, f"tasks left behind: {left!r}"
    return response


# --- the checks --------------------------------------------------------------------------------


def _decode_body(coding: bytes, body: bytes) -> bytes:
    if coding == b"gzip":
        return gzip.decompress(body)
    if coding == b"br":
        return brotli.decompress(body)
    if coding == b"zstd":
        assert zstandard is not None
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise AssertionError(f"unknown Content-Encoding {coding!r}")


def _reference_decode(plan: Plan) -> bytes | None:
    codings = [v for n, v in plan.headers if n == b"content-encoding"]
    data = plan.encoded_body
    try:
        # RFC 9110 §5.6.1: empty list members (", br") are ignored, as the middleware does.
        tokens = [c.strip(b" \t").lower() for c in b",".join(codings).split(b",")]
        for coding in reversed([token for token in tokens if token]):
            if coding in (b"gzip", b"x-gzip"):
                data = gzip.decompress(data)
            elif coding == b"deflate":
                data = zlib.decompress(data)
            elif coding == b"br":
                data = brotli.decompress(data)
            elif coding == b"zstd" and zstandard is not None:
                data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            elif coding != b"identity":
                return None
    except Exception:
        return None
    return data


def _request_id_in(plan: Plan) -> str | None:
    values = [v.decode("latin-1") for n, v in plan.headers if n == b"x-request-id"]
    if not values:
        return None
    # Repeated field lines: WSGI servers join them with "," (so the environ holds one value
    # the middleware cannot tell from a single line); on ASGI they arrive apart and the
    # middleware joins them the same way, so both protocols keep or replace the same ID.
    text = ",".join(values)
    return text if _SAFE_ID.fullmatch(text) else None


def _one(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [v for n, v in headers if n == name]


def check(plan: Plan, seen: Seen, response: Response) -> None:
    layers = LAYERS[plan.target]
    headers = response.headers
    status = response.status
    error = response.error
    if error is not None:
        assert isinstance(error, Boom) or (
            plan.protocol == "asgi" and isinstance(error, OSError) and plan.disconnect_after
        ), repr(error)

    # Status.
    assert 100 <= status <= 599, status
    answered = {400, 413, 415} if "decompress" in layers else set()
    if "cors" in layers and plan.method == "OPTIONS":
        answered.add(400)
    if status == 500:
        assert seen.raised, "500 without an app crash"
    elif not seen.called:
        assert status in answered or (status == 200 and "cors" in layers), (status, plan.target)
    elif not seen.raised or seen.bytes_sent:
        assert status == plan.status, (status, plan.status)

    # Header syntax and uniqueness.
    for name, value in headers:
        assert _TOKEN.fullmatch(name), f"bad header name {name!r}"
        assert not _CONTROL.search(value), f"control character in {name!r}: {value!r}"
    for name in (b"content-length", b"content-encoding", b"x-request-id", b"set-cookie"):
        assert len(_one(headers, name)) <= 1, f"{name!r} repeated: {headers!r}"
    assert len(_one(headers, b"access-control-allow-origin")) <= 1, headers

    # Body: Content-Length and Content-Encoding tell the truth.
    body = response.body
    coding = _one(headers, b"content-encoding")
    if response.complete and plan.method != "HEAD" and not response.error:
        if coding and "compression" in layers and coding[0] != b"identity":
            body = _decode_body(coding[0], body)
        length = _one(headers, b"content-length")
        declared_by_app = any(n == "Content-Length" for n, _ in plan.response_headers)
        if length and status not in (204, 304) and not (declared_by_app and not coding):
            assert int(length[0]) == len(response.body), (length, len(response.body))
        if seen.called and not seen.raised and status == plan.status:
            assert body == plan.expected_body, "the body changed on its way out"

    # The app saw the request body decoded, or was not called.
    if "decompress" in layers and seen.called and seen.body is not None:
        if seen.body not in (plan.body, plan.encoded_body):
            # Junk the harness did not encode can still be a valid stream (b"?" is an empty
            # brotli stream): then the app must see exactly what a reference decoder reads.
            assert seen.body == _reference_decode(plan), "request body corrupted"

    # CORS: the allow-origin header only ever names an allowed origin, and only the request's.
    if "cors" in layers:
        allowed = _one(headers, b"access-control-allow-origin")
        origins = [v for n, v in plan.headers if n == b"origin"]
        app_star = any(n == "Access-Control-Allow-Origin" for n, _ in plan.response_headers)
        if allowed and not (allowed == [b"*"] and app_star):
            assert origins and allowed[0] == origins[0], (allowed, origins)
            value = allowed[0]
            assert value.decode("latin-1") in ALLOWED_ORIGINS or (
                _WELL_FORMED_ORIGIN.fullmatch(value) and _ORIGIN_RE.fullmatch(value.decode("ascii"))
            ), f"origin {value!r} allowed"

    # Sessions: never forged data; Set-Cookie only when the app touched the session.
    if "sessions" in layers:
        if seen.session and "stored" in layers:
            # Only a signed session ID reaches the store, and the harness never signs one.
            raise AssertionError(f"session {seen.session!r} from a forged session ID")
        if seen.session:
            assert seen.session in plan.signed, f"session {seen.session!r} from a forged cookie"
        cookies = _one(headers, b"set-cookie")
        if cookies:
            assert plan.session_op != "none", "Set-Cookie without the app touching the session"
            assert status < 500, "Set-Cookie on a 5xx"
            assert b"httponly" in cookies[0].lower()

    # Request IDs and the access record.
    if "logging" in layers:
        ids = _one(headers, b"x-request-id")
        assert len(ids) == 1, headers
        rid = ids[0].decode("latin-1")
        assert _SAFE_ID.fullmatch(rid), rid
        incoming = _request_id_in(plan)
        if incoming is not None:
            assert rid == incoming
        elif any(n == b"x-request-id" for n, _ in plan.headers):
            assert re.fullmatch(r"[0-9a-f]{32}", rid), f"unsafe request ID kept: {rid!r}"
        records = ACCESS.records
        assert len(records) == 1, f"{len(records)} access records"
        record = records[0]
        line = record.getMessage()
        assert line.isascii() and line.isprintable(), f"unsafe log line {line!r}"
        assert record.request_id == rid  # type: ignore[attr-defined]
        if plan.target == "stack":
            parsed = json.loads(line)
            assert parsed["request_id"] == rid and parsed["method"] == plan.method
            assert parsed["status"] == record.status  # type: ignore[attr-defined]
    else:
        assert not ACCESS.records

    if "timing" in layers:
        assert _one(headers, b"server-timing"), "no Server-Timing"

    if plan.protocol == "wsgi" and seen.returned:
        assert seen.closed == 1, f"close() called {seen.closed} times"


def run_one(raw: bytes) -> None:
    plan = decode(raw)
    seen = Seen()
    ACCESS.records.clear()
    OTHER.records.clear()
    response = serve_wsgi(plan, seen) if plan.protocol == "wsgi" else serve_asgi(plan, seen)
    check(plan, seen, response)


# --- drivers ----------------------------------------------------------------------------------


def _worker(args: argparse.Namespace, extra: list[str]) -> None:
    _setup_logging()
    _stacks()
    if args.replay:
        run_one(Path(args.replay).read_bytes())
        print(f"replayed {args.replay}: no failure")
        return
    if args.engine == "random":
        rng = random.Random(args.seed)
        deadline = time.monotonic() + args.seconds
        runs = 0
        started = time.monotonic()
        while time.monotonic() < deadline:
            raw = rng.randbytes(rng.randrange(0, 600))
            try:
                run_one(raw)
            except BaseException:
                crash = Path(args.artifacts) / f"crash-random-{args.seed}-{runs}"
                crash.write_bytes(raw)
                print(f"crash saved to {crash}", file=sys.stderr)
                raise
            runs += 1
        print(f"Done {runs} runs in {round(time.monotonic() - started)} second(s)", file=sys.stderr)
        return
    assert atheris is not None
    corpus = Path(args.corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-max_len=2048",
        f"-artifact_prefix={args.artifacts}/",
        "-print_final_stats=1",
        *extra,
        str(corpus),
    ]
    atheris.Setup(argv, run_one)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz")
    parser.add_argument("--engine", choices=("atheris", "random"), default="atheris")
    parser.add_argument("--corpus", default="/tmp/gateway-middleware-fuzz/corpus")
    parser.add_argument("--artifacts", default="/tmp/gateway-middleware-fuzz")
    parser.add_argument("--seed", type=int, default=0, help="the random engine's seed")
    parser.add_argument("--replay", help="run one saved input and show its traceback")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args()
    Path(args.artifacts).mkdir(parents=True, exist_ok=True)
    if args.worker or args.replay:
        _worker(args, extra)
        return 0
    if args.engine == "atheris" and atheris is None:
        print("atheris is not installed: pip install atheris, or use --engine random")
        return 2
    # libFuzzer ends the process with exit(), past any Python code: a child runs it, and this
    # process reads its final statistics.
    command = [sys.executable, __file__, "--worker", *sys.argv[1:]]
    started = time.monotonic()
    child = subprocess.run(command, stderr=subprocess.PIPE, text=True, errors="replace")
    elapsed = time.monotonic() - started
    sys.stderr.write(child.stderr[-4000:])
    runs = re.findall(r"Done (\d+) runs in (\d+) second", child.stderr)
    executed = int(runs[-1][0]) if runs else 0
    seconds = int(runs[-1][1]) if runs else round(elapsed)
    rate = executed / seconds if seconds else 0
    verdict = "no failure" if child.returncode == 0 else f"FAILED (exit {child.returncode})"
    print(
        f"fuzz: {executed} executions in {seconds} s ({rate:.0f}/s), engine {args.engine}: "
        f"{verdict}"
    )
    return child.returncode


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
