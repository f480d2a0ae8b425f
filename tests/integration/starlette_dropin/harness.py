"""One endpoint, three stacks: Starlette's middleware, ours on ASGI, ours on WSGI.

An endpoint is a plain function from a ``Req`` to a ``Reply`` (the few things Starlette's
``PlainTextResponse``, ``JSONResponse`` and ``StreamingResponse`` send), turned into an ASGI app
or a WSGI app as the target needs, then wrapped in the middleware the test names, outermost
first. (No ``wsgiref.validate`` here: Starlette's tests send responses without a Content-Type,
which PEP 3333 allows and the validator refuses.)

    app = build(target, endpoint, ("cors", {"allow_origins": ["*"]}))
    response = client(target, app).get("/", headers={"origin": "https://example.org"})

``KNOWN`` lists the tests that fail today on one of our targets, with the cause; ``known()``
(called from an autouse fixture of each test module) turns them into strict xfails.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware.cors import CORSMiddleware as StarletteCORS
from starlette.middleware.gzip import GZipMiddleware as StarletteGZip
from starlette.middleware.sessions import SessionMiddleware as StarletteSession
from starlette.requests import Request

import middleware.asgi
import middleware.wsgi

with warnings.catch_warnings():
    # Starlette 1.10 deprecates its TestClient on httpx in favour of httpx2 (not installed);
    # the client works the same here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

TARGETS = ["starlette", "asgi", "wsgi"]
ASGI_TARGETS = ("starlette", "asgi")

BREAK = "drop-in break (to fix): "
DELIBERATE = "deliberate: "
DOCUMENTED = " (a row of docs/starlette-differences.md)"
UNDOCUMENTED = " (not yet a row of docs/starlette-differences.md)"

# Why each test listed in KNOWN fails today.
PRIVATE_NETWORK = (
    DELIBERATE + "a preflight asking for private-network access without allow_private_network "
    "is judged as usual (200, no Allow-Private-Network) instead of failing with 400" + DOCUMENTED
)
VARY_STAR_KEPT = (
    DELIBERATE + 'the app\'s "Vary: *" is kept as it is, not made "*, Origin" ("*" already '
    'covers Origin, RFC 9110 12.5.5; caches such as nginx treat only a lone "*" as '
    "uncacheable)" + DOCUMENTED
)
MAX_AGE_REFUSED = (
    DELIBERATE + "max_age=-1 is refused at construction (ValueError): a max_age that no "
    "session can survive is a configuration mistake, shown at start-up instead of as users "
    "who are signed out on every request" + DOCUMENTED
)

# {(test name, target): cause} or {(test name[param id], target): cause}. A test listed here
# fails today on that target; the cause says whether it is a bug of ours or deliberate.
_FAILING_ON_BOTH = {
    "test_cors_private_network_access_disallowed": PRIVATE_NETWORK,
    "test_cors_vary_origin[star-vary-star]": VARY_STAR_KEPT,
    "test_session_expires": MAX_AGE_REFUSED,
}
KNOWN: dict[tuple[str, str], str] = {
    (name, target): cause for name, cause in _FAILING_ON_BOTH.items() for target in ("asgi", "wsgi")
}


def known(request: pytest.FixtureRequest) -> None:
    """Mark the running test a strict xfail when ``KNOWN`` lists it for its target."""
    node = request.node
    target = node.callspec.params["target"]
    rest = "-".join(part for part in node.callspec.id.split("-") if part != target)
    for key in ((node.originalname, target), (f"{node.originalname}[{rest}]", target)):
        if key in KNOWN:
            node.add_marker(pytest.mark.xfail(strict=True, reason=KNOWN[key]))
            return


# --- Endpoints.


@dataclass
class Req:
    """What an endpoint sees of the request, the same on both protocols."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    _session: Callable[[], Any]
    _raw_session: Callable[[], Any]

    @property
    def session(self) -> Any:
        """As Starlette's ``request.session`` (ours: ``get_session(environ)`` on WSGI)."""
        return self._session()

    @property
    def raw_session(self) -> Any:
        """The session object itself, untouched (``scope["session"]``, the environ key)."""
        return self._raw_session()

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None  # streamed: one message (or one yield) each


Endpoint = Callable[[Req], Reply]


def text(content: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """What Starlette's ``PlainTextResponse`` sends."""
    body = content.encode()
    fields = [(name.lower(), value) for name, value in (headers or {}).items()]
    fields += [("content-length", str(len(body))), ("content-type", "text/plain; charset=utf-8")]
    return Reply(status, fields, body)


def json_reply(data: Any) -> Reply:
    """What Starlette's ``JSONResponse`` sends."""
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    fields = [("content-length", str(len(body))), ("content-type", "application/json")]
    return Reply(200, fields, body)


def stream(
    chunks: list[bytes], media_type: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """What Starlette's ``StreamingResponse`` sends (no Content-Type unless given one)."""
    fields = [(name.lower(), value) for name, value in (headers or {}).items()]
    if media_type is not None:
        charset = "; charset=utf-8" if media_type.startswith("text/") else ""
        fields.append(("content-type", media_type + charset))
    return Reply(200, fields, chunks=chunks)


def asgi_app(endpoint: Endpoint) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request = Req(
            scope["method"],
            scope["path"],
            {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body,
            lambda: Request(scope).session,
            lambda: scope["session"],
        )
        reply = endpoint(request)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        if reply.chunks is None:
            await send({"type": "http.response.body", "body": reply.body})
            return
        for chunk in reply.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def wsgi_app(endpoint: Endpoint) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        request = Req(
            environ["REQUEST_METHOD"],
            environ["SCRIPT_NAME"] + environ["PATH_INFO"],
            headers,
            body,
            lambda: middleware.wsgi.get_session(environ),
            lambda: environ["middleware.session"],
        )
        reply = endpoint(request)
        status = f"{reply.status} {HTTPStatus(reply.status).phrase}"
        start_response(status, list(reply.headers))
        if reply.chunks is None:
            return [reply.body]
        return _lazily(reply.chunks)

    return app


def _lazily(chunks: list[bytes]) -> Iterator[bytes]:
    yield from chunks


# --- The three stacks.

STARLETTE = {"cors": StarletteCORS, "gzip": StarletteGZip, "session": StarletteSession}
OURS_ASGI = {
    "cors": middleware.asgi.CORSMiddleware,
    "gzip": middleware.asgi.GZipMiddleware,
    "session": middleware.asgi.SessionMiddleware,
}
OURS_WSGI = {
    "cors": middleware.wsgi.CORSMiddleware,
    "gzip": middleware.wsgi.GZipMiddleware,
    "session": middleware.wsgi.SessionMiddleware,
}


def wrap(target: str, app: Any, *layers: tuple[str, dict[str, Any]]) -> Any:
    """``app`` (of the target's protocol) inside ``layers``, the first one outermost."""
    classes = {"starlette": STARLETTE, "asgi": OURS_ASGI, "wsgi": OURS_WSGI}[target]
    for kind, options in reversed(layers):
        app = classes[kind](app, **options)
    return app


def build(target: str, endpoint: Endpoint, *layers: tuple[str, dict[str, Any]]) -> Any:
    """``endpoint`` as an app of the target's protocol, inside ``layers``."""
    app = wsgi_app(endpoint) if target == "wsgi" else asgi_app(endpoint)
    return wrap(target, app, *layers)


def client(
    target: str,
    app: Any,
    base_url: str = "http://testserver",
    cookies: dict[str, str] | None = None,
) -> httpx.Client:
    """Starlette's ``TestClient`` for an ASGI app, an httpx client over WSGI otherwise."""
    if target == "wsgi":
        transport = httpx.WSGITransport(app=app)
        return httpx.Client(transport=transport, base_url=base_url, cookies=cookies)
    return TestClient(app, base_url=base_url, cookies=cookies)


def recording(app: Any) -> tuple[Any, list[dict[str, Any]]]:
    """An ASGI app that records every message ``app`` sends, and the list it records into."""
    events: list[dict[str, Any]] = []

    async def recorded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def record(message: dict[str, Any]) -> None:
            events.append(message)
            await send(message)

        await app(scope, receive, record)

    return recorded, events
