"""A real browser: headless Chromium calls fetch() across origins through CORSMiddleware.

A page served from one origin on 127.0.0.1 calls an API on a second origin (another port)
served through our middleware, once under gunicorn (WSGI) and once under uvicorn (ASGI): a
simple GET (reading an exposed header), a credentialed request (the page's cookie reaches the
API and the answer is readable), a request with a custom header (so the browser sends a real
preflight), one with a header the policy refuses (the browser must not send it), and an app
crash, which must reach the page as a readable 500 rather than a CORS error. A page from an
origin that is not allowed must be blocked.

Websockets (SPEC, WebSocket): the browser applies no CORS to them and sends the page's cookie
with the handshake, so the guard is the middleware's. Under uvicorn, hypercorn and Daphne,
``tests/integration/websocket_cors_app.py`` allows the first page's origin: a page from it
opens the socket and gets its echo; a page from the other origin cannot open it, and the app
never sees that handshake.

Installs nothing: it runs when Debian's ``chromium`` and ``chromium-driver`` are present and is
skipped otherwise. Chromium is driven through chromedriver's W3C WebDriver HTTP API with httpx.

This module is also the servers' target (``tests.integration.test_cors_browser:wsgi_app`` /
``:asgi_app``): the allowed origin reaches the server process in ``CORS_BROWSER_ORIGIN``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from middleware.asgi.cors import CORSMiddleware as ASGICORS
from middleware.wsgi.cors import CORSMiddleware as WSGICORS

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)",
    ),
]

# --- The API, as the server process builds it.

ALLOWED = os.environ.get("CORS_BROWSER_ORIGIN", "http://127.0.0.1:9")
OPTIONS: dict[str, Any] = {
    "allow_origins": [ALLOWED],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["X-Custom"],
    "allow_credentials": True,
    "expose_headers": ["X-Total"],
}
SEEN: list[str] = []  # what reached the app, in the server process


def _answer(method: str, path: str, cookie: str | None, custom: str | None) -> bytes:
    if path == "/seen":
        return json.dumps(SEEN).encode()
    SEEN.append(f"{method} {path}")
    if path == "/crash":
        raise RuntimeError("the app crashed")
    return json.dumps({"method": method, "cookie": cookie, "custom": custom}).encode()


def _api_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = _answer(
        environ["REQUEST_METHOD"],
        environ["PATH_INFO"],
        environ.get("HTTP_COOKIE"),
        environ.get("HTTP_X_CUSTOM"),
    )
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("X-Total", "42"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


async def _api_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = dict(scope["headers"])
    cookie, custom = headers.get(b"cookie"), headers.get(b"x-custom")
    body = _answer(
        scope["method"],
        scope["path"],
        None if cookie is None else cookie.decode("latin-1"),
        None if custom is None else custom.decode("latin-1"),
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-total", b"42")],
        }
    )
    await send({"type": "http.response.body", "body": body})


wsgi_app = WSGICORS(_api_wsgi, **OPTIONS)
asgi_app = ASGICORS(_api_asgi, **OPTIONS)

# --- The pages, served in this process.

PAGE = b"<!doctype html><title>cors</title><p>page"


def _page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b""]
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", "session=abc123; Path=/; SameSite=Lax"),
        ],
    )
    return [PAGE]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # Chromium opens spare connections it may never use; a single-threaded server would wait
    # on one of them while the page's real request queues behind it.
    daemon_threads = True


@pytest.fixture(scope="module")
def pages() -> Iterator[tuple[str, str]]:
    """Two page origins on 127.0.0.1: the allowed one and another port that is not."""
    servers: list[WSGIServer] = []
    threads: list[threading.Thread] = []
    for _ in range(2):
        server = make_server(
            "127.0.0.1", 0, _page, server_class=_ThreadingServer, handler_class=_Quiet
        )
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append(server)
        threads.append(thread)
    try:
        yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[misc]
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


# --- A minimal WebDriver client for chromedriver.


class Browser:
    """One headless Chromium session, driven over chromedriver's W3C HTTP API."""

    def __init__(self) -> None:
        from tests.integration.servers import free_port

        port = free_port()
        self.profile = tempfile.TemporaryDirectory()
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        self.session = ""
        try:
            self._wait_ready()
            capabilities = {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [*FLAGS, f"--user-data-dir={self.profile.name}"],
                },
                "timeouts": {"script": 30_000, "pageLoad": 30_000},
            }
            answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
            self.session = answer["sessionId"]
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.http.get("/status").json()["value"]["ready"]:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("chromedriver did not become ready within 20 s")

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=payload)
        value = response.json()["value"]
        if response.status_code != 200:
            raise RuntimeError(f"WebDriver {path}: {value}")
        return value

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def run(self, script: str, *args: Any) -> Any:
        """Run async JavaScript in the page; the script calls ``done(result)``."""
        wrapped = f"const done = arguments[arguments.length - 1];\n{script}"
        return self._call(
            "POST",
            f"/session/{self.session}/execute/async",
            {"script": wrapped, "args": list(args)},
        )

    def close(self) -> None:
        try:
            if self.session:
                self.http.delete(f"/session/{self.session}")
        finally:
            self.http.close()
            if self.driver.poll() is None:
                self.driver.send_signal(signal.SIGTERM)
                try:
                    self.driver.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.driver.kill()
                    self.driver.wait(timeout=5)
            self.profile.cleanup()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    session = Browser()
    try:
        yield session
    finally:
        session.close()


FETCHES = """
const api = arguments[0];
const out = {};
async function attempt(name, path, init) {
  try {
    const response = await fetch(api + path, init);
    out[name] = {status: response.status, total: response.headers.get("X-Total"),
                 body: await response.text()};
  } catch (error) {
    out[name] = {error: String(error)};
  }
}
(async () => {
  await attempt("simple", "/data");
  await attempt("credentialed", "/me", {credentials: "include"});
  await attempt("preflighted", "/items", {method: "POST", body: "{}",
    headers: {"X-Custom": "yes", "Content-Type": "application/json"}});
  await attempt("refused", "/refused", {method: "POST", headers: {"X-Other": "no"}});
  await attempt("crash", "/crash");
  done(out);
})();
"""

BLOCKED = """
const api = arguments[0];
const out = {};
for (const [name, init] of [["blocked", {}], ["blocked-credentialed", {credentials: "include"}]]) {
  try {
    const response = await fetch(api + "/" + name, init);
    out[name] = {status: response.status};
  } catch (error) {
    out[name] = {error: String(error)};
  }
}
done(out);
"""


@pytest.mark.parametrize(
    ("server", "target"),
    [
        pytest.param("gunicorn-sync", "tests.integration.test_cors_browser:wsgi_app", id="wsgi"),
        pytest.param("uvicorn", "tests.integration.test_cors_browser:asgi_app", id="asgi"),
    ],
)
def test_browser_cors(browser: Browser, pages: tuple[str, str], server: str, target: str) -> None:
    from tests.integration.servers import running

    allowed, other = pages
    with running(server, target, env={"CORS_BROWSER_ORIGIN": allowed}) as api:
        browser.open(allowed + "/")
        seen_by_page = browser.run(FETCHES, api)
        browser.open(other + "/")
        blocked = browser.run("(async () => {" + BLOCKED + "})();", api)
        reached_app = httpx.get(api + "/seen", timeout=10).json()

    simple = seen_by_page["simple"]
    assert simple["status"] == 200 and simple["total"] == "42"
    assert json.loads(simple["body"])["cookie"] is None  # not credentialed: no cookie sent

    credentialed = seen_by_page["credentialed"]
    assert credentialed["status"] == 200
    assert json.loads(credentialed["body"])["cookie"] == "session=abc123"

    preflighted = seen_by_page["preflighted"]
    assert preflighted["status"] == 200
    assert json.loads(preflighted["body"]) == {"method": "POST", "cookie": None, "custom": "yes"}

    assert "Failed to fetch" in seen_by_page["refused"].get("error", "")

    # The crash reaches the page as what it is, a 500, not as a CORS failure.
    crash = seen_by_page["crash"]
    assert (crash["status"], crash["body"]) == (500, "Internal Server Error")

    assert "Failed to fetch" in blocked["blocked"].get("error", "")
    assert "Failed to fetch" in blocked["blocked-credentialed"].get("error", "")

    # Preflights were answered by the middleware (the app never saw an OPTIONS); the refused
    # request was never sent; the other origin's requests reached the server, and the browser
    # withheld the answers from the page.
    assert reached_app == [
        "GET /data",
        "GET /me",
        "POST /items",
        "GET /crash",
        "GET /blocked",
        "GET /blocked-credentialed",
    ]


# --- Websockets: the origin guard, seen from pages of both origins.

SOCKET = """
const url = arguments[0];
const events = [];
const socket = new WebSocket(url);
socket.onopen = () => { events.push("open"); socket.send("ping"); };
socket.onmessage = (event) => {
  events.push("message " + event.data);
  if (event.data === "ping") socket.close(1000);
};
socket.onerror = () => events.push("error");
socket.onclose = (event) => { events.push("close"); done(events); };
"""


@pytest.mark.parametrize("server", ["uvicorn", "hypercorn", "daphne"])
def test_browser_websocket_origin_guard(
    browser: Browser, pages: tuple[str, str], server: str, tmp_path: Any
) -> None:
    from tests.integration.servers import running

    allowed, other = pages
    record = tmp_path / "calls.jsonl"
    env = {"WS_CORS_ORIGIN": allowed, "WS_CORS_RECORD": str(record)}
    with running(server, "tests.integration.websocket_cors_app:app", env=env) as api:
        url = api.replace("http://", "ws://") + "/ws"
        browser.open(other + "/")
        refused = browser.run(SOCKET, url)
        browser.open(allowed + "/")
        opened = browser.run(SOCKET, url)

    # The refused page never got a socket; the allowed one did, with the page's cookie
    # (session=abc123, which the browser also attaches to the other page's handshake: same
    # site; not a signed session, hence no user), and read the echo.
    assert refused == ["error", "close"]
    assert opened == ["open", "message hello None", "message ping", "close"]
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert calls == [
        {"type": "websocket", "path": "/ws", "origin": allowed, "cookie": True, "user": None}
    ]
