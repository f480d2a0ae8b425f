"""A real browser decodes what CompressionMiddleware sends: zstd, br, gzip, and a compressed SSE.

Headless Chromium loads a page whose stylesheet, script and ``fetch()`` calls go through three
``CompressionMiddleware`` set-ups on one server: the default one (``encodings`` zstd, br, gzip;
Chromium sends ``Accept-Encoding: gzip, deflate, br, zstd`` even to http://127.0.0.1, so zstd
wins), one limited to ``encodings=("br", "gzip")`` and one to ``("gzip",)``. The page reads which
coding each response used from its Resource Timing entry (``contentEncoding``, with the encoded
and decoded sizes) and, for ``fetch()``, from the Content-Encoding header too; the server keeps
its own record of what it sent. An ``EventSource`` through the default set-up (zstd) must receive
its five events one by one, 200 ms apart, as the app sends them.

Run once under uvicorn (ASGI) and once under gunicorn's gthread worker (WSGI); the module is also
the servers' target (``:asgi_app`` / ``:wsgi_app``). Skipped, as the CORS browser test, when
Debian's ``chromium`` and ``chromium-driver`` are missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from middleware.asgi.compression import CompressionMiddleware as ASGICompression
from middleware.wsgi.compression import CompressionMiddleware as WSGICompression
from tests.integration.test_cors_browser import CHROMEDRIVER, CHROMIUM, Browser

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)",
    ),
]

EVENTS = 5
EVENT_GAP_SECONDS = 0.2
SETUPS: dict[str, dict[str, Any]] = {
    "default": {},
    "br": {"encodings": ("br", "gzip")},
    "gzip": {"encodings": ("gzip",)},
}

# --- The app, as the server process builds it.

ROWS = "".join(f'<li class="item">entry {n}</li>' for n in range(150))
PAGE = (
    "<!doctype html><html><head><title>encodings</title>"
    '<link rel="stylesheet" href="/gzip/style.css">'
    '<script src="/br/app.js"></script></head>'
    f'<body><ul id="list">{ROWS}</ul></body></html>'
).encode()
STYLE = "body { color: rgb(1, 2, 3); }\n" + "".join(
    f".c{n} {{ margin: {n}px; }}\n" for n in range(150)
)
SCRIPT = 'window.loaded = "app.js";\n' + "".join(
    f"function f{n}() {{ return {n}; }}\n" for n in range(150)
)
DATA = json.dumps({"items": [{"n": n, "name": f"item {n}"} for n in range(100)]}).encode()
TYPES = {
    "page": "text/html; charset=utf-8",
    "style.css": "text/css",
    "app.js": "text/javascript",
    "data.json": "application/json",
}
BODIES = {"page": PAGE, "style.css": STYLE.encode(), "app.js": SCRIPT.encode(), "data.json": DATA}
SENT: list[tuple[str, str]] = []  # (path, Content-Encoding) as the server sent them


def _route(path: str) -> tuple[str, str]:
    """The set-up and the resource a path names: ``/`` is the default set-up's page."""
    if path == "/":
        return "default", "page"
    _, setup, resource = path.split("/", 2)
    return setup, resource


def _event(n: int) -> bytes:
    return f"id: {n}\ndata: event {n}\n\n".encode()


def _wsgi_resource(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    _, resource = _route(environ["PATH_INFO"])
    if resource == "events":
        headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
        start_response("200 OK", headers)
        return _wsgi_events()
    start_response("200 OK", [("Content-Type", TYPES[resource])])
    return [BODIES[resource]]


def _wsgi_events() -> Iterator[bytes]:
    for n in range(EVENTS):
        if n:
            time.sleep(EVENT_GAP_SECONDS)
        yield _event(n)


async def _asgi_resource(scope: dict[str, Any], receive: Any, send: Any) -> None:
    _, resource = _route(scope["path"])
    if resource == "events":
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n in range(EVENTS):
            if n:
                await asyncio.sleep(EVENT_GAP_SECONDS)
            await send({"type": "http.response.body", "body": _event(n), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", TYPES[resource].encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODIES[resource]})


WSGI_SETUPS = {name: WSGICompression(_wsgi_resource, **options) for name, options in SETUPS.items()}
ASGI_SETUPS = {name: ASGICompression(_asgi_resource, **options) for name, options in SETUPS.items()}


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/sent":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(SENT).encode()]
    if path == "/favicon.ico":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b""]

    def recording(status: str, headers: list[tuple[str, str]], *args: Any) -> Callable[..., Any]:
        coding = next((v for k, v in headers if k.lower() == "content-encoding"), "identity")
        SENT.append((path, coding))
        return start_response(status, headers, *args)  # type: ignore[no-any-return]

    return WSGI_SETUPS[_route(path)[0]](environ, recording)  # type: ignore[no-any-return]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path in ("/sent", "/favicon.ico"):
        found = path == "/sent"
        body = json.dumps(SENT).encode() if found else b""
        await send({"type": "http.response.start", "status": 200 if found else 404, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return

    async def recording(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            SENT.append((path, headers.get(b"content-encoding", b"identity").decode()))
        await send(message)

    await ASGI_SETUPS[_route(path)[0]](scope, receive, recording)


# --- The test.

READ = f"""
const out = {{fetched: {{}}, events: [], entries: {{}}}};
(async () => {{
  for (const setup of ["default", "br", "gzip"]) {{
    const response = await fetch("/" + setup + "/data.json", {{cache: "no-store"}});
    const data = await response.json();
    out.fetched[setup] = {{header: response.headers.get("content-encoding"),
                          items: data.items.length}};
  }}
  out.loaded = window.loaded;
  out.color = getComputedStyle(document.body).color;
  await new Promise((resolve) => {{
    const source = new EventSource("/default/events");
    source.onmessage = (event) => {{
      out.events.push([performance.now(), event.data]);
      if (out.events.length === {EVENTS}) {{ source.close(); resolve(); }}
    }};
    source.onerror = () => {{ source.close(); resolve(); }};
  }});
  const entries = [...performance.getEntriesByType("navigation"),
                   ...performance.getEntriesByType("resource")];
  for (const entry of entries) {{
    out.entries[new URL(entry.name).pathname] = {{coding: entry.contentEncoding,
      encoded: entry.encodedBodySize, decoded: entry.decodedBodySize}};
  }}
  done(out);
}})();
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    session = Browser()
    try:
        yield session
    finally:
        session.close()


@pytest.mark.parametrize(
    ("server", "target"),
    [
        pytest.param("uvicorn", "tests.integration.test_browser_encodings:asgi_app", id="asgi"),
        pytest.param(
            "gunicorn-gthread", "tests.integration.test_browser_encodings:wsgi_app", id="wsgi"
        ),
    ],
)
def test_browser_decodes_each_coding(browser: Browser, server: str, target: str) -> None:
    from tests.integration.servers import running

    with running(server, target) as base:
        browser.open(base + "/")
        seen = browser.run(READ)
        sent = dict(map(tuple, httpx.get(base + "/sent", timeout=10).json()))

    # What the server sent: zstd where every coding is on offer, else the set-up's first choice.
    assert sent == {
        "/": "zstd",
        "/gzip/style.css": "gzip",
        "/br/app.js": "br",
        "/default/data.json": "zstd",
        "/br/data.json": "br",
        "/gzip/data.json": "gzip",
        "/default/events": "zstd",
    }
    # What the page read: the same codings, and bodies it could use.
    assert seen["fetched"] == {
        "default": {"header": "zstd", "items": 100},
        "br": {"header": "br", "items": 100},
        "gzip": {"header": "gzip", "items": 100},
    }
    assert seen["loaded"] == "app.js"
    assert seen["color"] == "rgb(1, 2, 3)"
    for path, coding in sent.items():
        if path == "/default/events":
            continue  # a closed EventSource leaves no complete entry behind
        entry = seen["entries"][path]
        assert entry["coding"] == coding, (path, entry)
        assert 0 < entry["encoded"] < entry["decoded"] / 2, (path, entry)

    # The events came one by one, as sent: a buffered stream would deliver them together.
    assert [data for _, data in seen["events"]] == [f"event {n}" for n in range(EVENTS)]
    stamps = [stamp for stamp, _ in seen["events"]]
    gaps = [(later - earlier) / 1000 for earlier, later in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) > EVENT_GAP_SECONDS / 2, gaps
