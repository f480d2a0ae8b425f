"""The demo: one sample app served over WSGI and over ASGI with the same middleware stack.

    .venv/bin/python examples/demo.py           # tour, then serve until Ctrl-C
    .venv/bin/python examples/demo.py --check   # tour, exit 0 when every check passed, else 1

The same stack is declared once (``LAYERS``) and built twice, from ``middleware.wsgi`` and from
``middleware.asgi``. The WSGI side runs on wsgiref's threaded server, the ASGI side on uvicorn,
both on 127.0.0.1 with free ports. The tour sends the same requests to both and prints what
each middleware did; it is a demonstration, not a load test.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import itsdangerous
import uvicorn

import middleware.asgi
import middleware.wsgi
from middleware import Middleware, timing

# The stack, outermost first, declared once for both protocols.
ORIGIN = "https://app.example"
# A new random key for each run: no key in the source, so nobody can forge the demo's sessions
# (they end with the run; the other examples read theirs from $SESSION_SECRET).
SECRET = secrets.token_urlsafe(32)
# The key earlier versions of the demo and examples fell back to; the tour shows it is refused.
OLD_PUBLIC_KEY = "demo-only-secret-change-me"
LAYERS: list[tuple[str, dict[str, Any]]] = [
    ("RequestLoggingMiddleware", {"format": "combined"}),
    ("TimingMiddleware", {"timing_allow_origin": "*"}),
    (
        "CORSMiddleware",
        {
            "allow_origins": [ORIGIN],
            "allow_methods": ["GET", "POST"],
            "allow_headers": ["X-Demo"],
            "allow_credentials": True,
            "expose_headers": ["X-Request-ID", "Server-Timing"],
        },
    ),
    ("SessionMiddleware", {"secret_key": SECRET}),
    ("CompressionMiddleware", {"minimum_size": 500}),
]

PAGE = ("<!doctype html><title>demo</title>" + "<p>gateway-middleware demo</p>\n" * 200).encode()


def build(module: Any, app: Any) -> Any:
    """The demo stack around ``app``, from ``middleware.wsgi`` or ``middleware.asgi``."""
    layers = [Middleware(getattr(module, name), **options) for name, options in LAYERS]
    return module.compose(*layers)(app)


def _visit(session: Any) -> bytes:
    session["visits"] = session.get("visits", 0) + 1
    return json.dumps({"visits": session["visits"]}).encode()


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/crash":
        raise RuntimeError("the demo app crashed on purpose")
    if path == "/session":
        body = _visit(environ["middleware.session"])
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    with timing.measure("render", "page"):
        body = PAGE
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [body]


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/crash":
        raise RuntimeError("the demo app crashed on purpose")
    if scope["path"] == "/session":
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": _visit(scope["session"])})
        return
    with timing.measure("render", "page"):
        body = PAGE
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_wsgi(port: int) -> Any:
    server = make_server(
        "127.0.0.1",
        port,
        build(middleware.wsgi, wsgi_app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_asgi(port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        build(middleware.asgi, asgi_app),
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server


ACCESS: list[str] = []
ACCESS_IDS: list[str] = []


class _Collect(logging.Handler):
    """Keeps the access lines, and the request ID each record carries as an attribute."""

    def emit(self, record: logging.LogRecord) -> None:
        ACCESS.append(self.format(record))
        ACCESS_IDS.append(getattr(record, "request_id", ""))


def _last_access_line(wanted: str, seconds: float = 2.0) -> bool:
    """Whether the newest access line contains ``wanted`` within ``seconds``: a line is written
    once the server has sent the response's last bytes, so the client can read the response a
    moment before its line exists."""
    deadline = time.monotonic() + seconds
    while not (ACCESS and wanted in ACCESS[-1]):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def tour(urls: dict[str, str]) -> list[str]:
    """Send the same requests to both servers; print what happened; return the failures."""
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        print(f"    {'ok ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    with httpx.Client(timeout=10) as client:
        for protocol, base in urls.items():
            print(f"\n== {protocol.upper()} at {base}")
            page = client.get(base + "/")
            print(f"  GET /  -> {page.status_code}, {len(page.content)} bytes")
            server_timing = page.headers.get("server-timing", "")
            print(f"    Server-Timing: {server_timing}")
            expect(server_timing.startswith("app;dur="), f"{protocol}: Server-Timing on /")
            expect("render;dur=" in server_timing, f"{protocol}: app metric recorded")
            expect(
                page.headers.get("timing-allow-origin") == "*", f"{protocol}: Timing-Allow-Origin"
            )
            for coding in ("zstd", "br", "gzip"):
                raw = client.get(base + "/", headers={"accept-encoding": coding})
                encoding = raw.headers.get("content-encoding")
                print(
                    f"  GET / Accept-Encoding: {coding} -> Content-Encoding: {encoding}, "
                    f"{len(raw.content)} bytes decoded from the wire"
                )
                expect(
                    encoding == coding and raw.content == PAGE, f"{protocol}: {coding} round trip"
                )
            vary = page.headers.get_list("vary")
            print(f"    Vary: {', '.join(vary)}")
            members = [m.strip().lower() for v in vary for m in v.split(",")]
            expect(
                sorted(members) == ["accept-encoding", "origin"],
                f"{protocol}: Vary merged once per layer, no duplicates",
            )
            tagged = client.get(base + "/", headers={"x-request-id": "demo-42"})
            print(f"  X-Request-ID: demo-42 -> echoed {tagged.headers.get('x-request-id')!r}")
            expect(tagged.headers.get("x-request-id") == "demo-42", f"{protocol}: request ID kept")
            fresh = client.get(base + "/", headers={"x-request-id": "bad id\x7f"})
            expect(
                len(fresh.headers.get("x-request-id", "")) == 32, f"{protocol}: unsafe ID replaced"
            )
            expect("demo-42" in ACCESS_IDS, f"{protocol}: access record has the ID")
            preflight = client.options(
                base + "/",
                headers={
                    "origin": ORIGIN,
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "x-demo",
                },
            )
            allowed = preflight.headers.get("access-control-allow-headers")
            print(f"  preflight from {ORIGIN} -> {preflight.status_code}, Allow-Headers: {allowed}")
            expect(preflight.status_code == 200, f"{protocol}: preflight allowed")
            refused = client.options(
                base + "/",
                headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
            )
            print(
                f"  preflight from https://evil.example -> {refused.status_code} {refused.text!r}"
            )
            expect(refused.status_code == 400, f"{protocol}: foreign preflight refused")
            simple = client.get(base + "/", headers={"origin": ORIGIN})
            expect(
                simple.headers.get("access-control-allow-origin") == ORIGIN
                and simple.headers.get("access-control-allow-credentials") == "true",
                f"{protocol}: credentialed CORS answer",
            )
            with httpx.Client(base_url=base, timeout=10) as browser:
                visits = [browser.get("/session").json()["visits"] for _ in range(3)]
                cookie = browser.get("/session").headers.get("set-cookie", "")
            print(f"  /session three times with a cookie jar -> visits {visits}")
            print(f"    Set-Cookie: {cookie[:60]}...")
            expect(visits == [1, 2, 3], f"{protocol}: session kept across requests")
            # Spelled as Starlette spells it (httponly; samesite=lax); browsers read the
            # attribute names in any case.
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            expect({"httponly", "samesite=lax"} <= flags, f"{protocol}: cookie flags")
            forged = forge_session({"visits": 41}, OLD_PUBLIC_KEY)
            after = visits_with(base, forged)
            print(f"  /session with a cookie signed by the old public key -> visits {after}")
            expect(after == 1, f"{protocol}: a session forged with the old public key is refused")
            signed = forge_session({"visits": 41}, SECRET)
            kept = visits_with(base, signed)
            expect(kept == 42, f"{protocol}: the same cookie signed with this run's key is read")
            crash = client.get(base + "/crash", headers={"origin": ORIGIN})
            print(f"  GET /crash -> {crash.status_code} {crash.text!r}")
            expect(crash.status_code == 500, f"{protocol}: crash answered with a plain 500")
            expect("server-timing" in crash.headers, f"{protocol}: the crash 500 keeps its headers")
            expect("x-request-id" in crash.headers, f"{protocol}: the crash 500 has a request ID")
            expect(
                crash.headers.get("access-control-allow-origin") == ORIGIN,
                f"{protocol}: the crash 500 keeps its CORS headers",
            )
            expect(_last_access_line(" 500 "), f"{protocol}: the crash is in the access log")
            print("  access log:")
            for line in ACCESS[-3:]:
                print(f"    {line}")
    return failures


def forge_session(data: dict[str, Any], key: str) -> str:
    """A session cookie as anyone holding ``key`` could sign it (Starlette's format)."""
    payload = base64.b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(key).sign(payload).decode()


def visits_with(base: str, cookie: str) -> int:
    """The visit count ``/session`` answers to a client holding only ``cookie``."""
    answer = httpx.get(base + "/session", headers={"cookie": f"session={cookie}"}, timeout=10)
    return int(answer.json()["visits"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run the tour and exit 0/1")
    args = parser.parse_args()
    # The demo crashes on purpose; keep the expected tracebacks out of the tour's output.
    errors = logging.getLogger("middleware.errors")
    errors.addHandler(logging.NullHandler())
    errors.propagate = False
    access = logging.getLogger("middleware.access")
    access.setLevel(logging.INFO)
    access.addHandler(_Collect())
    wsgi_port, asgi_port = _free_port(), _free_port()
    wsgi_server = serve_wsgi(wsgi_port)
    asgi_server = serve_asgi(asgi_port)
    urls = {"wsgi": f"http://127.0.0.1:{wsgi_port}", "asgi": f"http://127.0.0.1:{asgi_port}"}
    print("Stack (outermost first): " + json.dumps([name for name, _ in LAYERS]))
    print(
        "Sessions are signed with a random key made for this run: they end when it ends "
        "(the other examples read a key from $SESSION_SECRET)."
    )
    failures = tour(urls)
    print(f"\n{'all checks passed' if not failures else f'{len(failures)} check(s) failed'}")
    try:
        if args.check:
            return 1 if failures else 0
        print("\nServing until Ctrl-C. Try:")
        for base in urls.values():
            print(f"  curl -si {base}/ | head -n 8")
            print(f"  curl -si {base}/crash -H 'Origin: {ORIGIN}'")
            print(
                f"  curl -si -X OPTIONS {base}/ -H 'Origin: {ORIGIN}' "
                "-H 'Access-Control-Request-Method: POST'"
            )
            print(f"  curl -si {base}/ -H 'Accept-Encoding: br' -o /dev/null -D -")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        wsgi_server.shutdown()
        asgi_server.should_exit = True


if __name__ == "__main__":
    sys.exit(main())
