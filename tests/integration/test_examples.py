"""Every example app under real servers on 127.0.0.1, exercised over real HTTP with httpx.

Each example (``examples/``) has the same routes and the same five middleware: ``/`` (an HTML
page with a ``render`` metric), ``/stream`` (NDJSON, a line every 50 ms), ``/session`` (a visit
counter in the session) and ``/crash`` (raises). One server is started per row of ``MATRIX``
(a module-scoped fixture), the checks below run against it, and it is stopped by its PID.

The matrix runs each server at least once and each framework under at least one server of its
protocol; the plain apps run under all eight servers (uWSGI and Daphne included), Django under
both protocols, Flask under uWSGI too, and the two ways of adding middleware to Starlette and
FastAPI (``add_middleware``, ``middleware=[...]``) each under a different server.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import itsdangerous
import pytest

from tests.integration.servers import ROOT, running

pytestmark = pytest.mark.integration

ORIGIN = "https://app.example"
WSGI_PLAIN = "examples.wsgi_app:application"
ASGI_PLAIN = "examples.asgi_app:application"

MATRIX = [
    pytest.param(("gunicorn-sync", WSGI_PLAIN), id="wsgi-gunicorn-sync"),
    pytest.param(("gunicorn-gthread", WSGI_PLAIN), id="wsgi-gunicorn-gthread"),
    pytest.param(("waitress", WSGI_PLAIN), id="wsgi-waitress"),
    pytest.param(("uvicorn", ASGI_PLAIN), id="asgi-uvicorn"),
    pytest.param(("hypercorn", ASGI_PLAIN), id="asgi-hypercorn"),
    pytest.param(("gunicorn-uvicorn", ASGI_PLAIN), id="asgi-gunicorn-uvicorn"),
    pytest.param(("gunicorn-sync", "examples.flask_app:app"), id="flask-gunicorn-sync"),
    pytest.param(("waitress", "examples.flask_app:app"), id="flask-waitress"),
    pytest.param(
        ("gunicorn-gthread", "examples.django_project.wsgi:application"), id="django-wsgi-gthread"
    ),
    pytest.param(("uvicorn", "examples.django_project.asgi:application"), id="django-asgi-uvicorn"),
    pytest.param(("hypercorn", "examples.starlette_app:app"), id="starlette-list-hypercorn"),
    pytest.param(("uvicorn", "examples.starlette_app:app_added"), id="starlette-added-uvicorn"),
    pytest.param(("gunicorn-uvicorn", "examples.fastapi_app:app"), id="fastapi-added-gunicorn-uv"),
    pytest.param(("hypercorn", "examples.fastapi_app:app_listed"), id="fastapi-list-hypercorn"),
    # Issue 18: uWSGI (the pyuwsgi wheel, behind its own HTTP router) and Daphne.
    pytest.param(("uwsgi", WSGI_PLAIN), id="wsgi-uwsgi"),
    pytest.param(("uwsgi", "examples.flask_app:app"), id="flask-uwsgi"),
    pytest.param(("daphne", ASGI_PLAIN), id="asgi-daphne"),
    pytest.param(("daphne", "examples.starlette_app:app"), id="starlette-list-daphne"),
]

LOG_WAIT_SECONDS = 5

# The key this run's servers sign sessions with, and the one every example fell back to when
# $SESSION_SECRET was unset, before the examples refused to start without one.
SESSION_SECRET = secrets.token_urlsafe(32)
OLD_FALLBACK_KEY = "example-only-secret-change-me"
EXAMPLE_MODULES = [
    "examples.wsgi_app",
    "examples.asgi_app",
    "examples.flask_app",
    "examples.starlette_app",
    "examples.fastapi_app",
    "examples.django_project.wsgi",
    "examples.django_project.asgi",
]

# Middleware bugs these checks found (shown in process in test_findings.py), by test and row:
# {(test name, row id): reason}. Empty since Django's capitalised ASGI header names are
# lower-cased at the ASGI edge (middleware/asgi/_scope.py).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Served:
    target: str
    base: str
    access_log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10)


@pytest.fixture(scope="module", params=MATRIX)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    server, target = request.param
    access_log = tmp_path_factory.mktemp("access") / "access.log"
    env = {"ACCESS_LOG": str(access_log), "SESSION_SECRET": SESSION_SECRET}
    with running(server, target, env=env) as base:
        yield Served(target, base, access_log)


@pytest.fixture(autouse=True)
def _known_bug(request: pytest.FixtureRequest) -> None:
    node = request.node
    reason = KNOWN_BUGS.get((node.originalname, node.callspec.id))
    if reason is not None:
        node.add_marker(pytest.mark.xfail(strict=True, reason=reason))


def _log_line(path: Path, request_id: str) -> str:
    """The access line carrying ``request_id``; records are written after the response ends."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        found = [line for line in lines if request_id in line]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, f"{request_id!r} in {len(found)} access lines: {lines[-5:]}"
            return found[0]
        time.sleep(0.05)


def test_compressed_with_each_coding(served: Served) -> None:
    with served.client() as client:
        plain = client.get("/", headers={"accept-encoding": "identity"})
        assert plain.status_code == 200
        assert "content-encoding" not in plain.headers
        assert len(plain.content) > 500
        for coding in ("zstd", "br", "gzip"):
            encoded = client.get("/", headers={"accept-encoding": coding})
            assert encoded.headers["content-encoding"] == coding
            assert "accept-encoding" in encoded.headers["vary"].lower()
            assert encoded.content == plain.content  # decoded by httpx's real decoders
            # Smaller on the wire than the page itself.
            assert encoded.num_bytes_downloaded < len(plain.content)
        streamed = client.get("/stream", headers={"accept-encoding": "gzip"})
        assert streamed.headers["content-encoding"] == "gzip"
        assert streamed.text.splitlines() == [json.dumps({"n": n}) for n in range(5)]


def test_a_tiny_body_is_not_compressed(served: Served) -> None:
    # {"visits": 1} is 13 bytes: compressed it would be about 39 (Content-Length tells the
    # middleware so; Django's CommonMiddleware sets it as in a default project).
    with served.client() as client:
        answer = client.get("/session", headers={"accept-encoding": "gzip"})
    assert answer.json() == {"visits": 1}
    assert "content-encoding" not in answer.headers
    assert answer.num_bytes_downloaded == len(answer.content) < 20


def test_stream_arrives_chunk_by_chunk(served: Served) -> None:
    arrivals: list[tuple[float, str]] = []
    with (
        served.client() as client,
        client.stream("GET", "/stream", headers={"accept-encoding": "gzip"}) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            arrivals.append((time.monotonic(), line))
    assert [json.loads(line) for _, line in arrivals] == [{"n": n} for n in range(5)]
    # Lines are produced 50 ms apart; buffered to the end, they would arrive all at once.
    assert arrivals[-1][0] - arrivals[0][0] > 0.12


def test_cors_preflight(served: Served) -> None:
    with served.client() as client:
        allowed = client.options(
            "/session",
            headers={
                "origin": ORIGIN,
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-demo",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert "x-demo" in allowed.headers["access-control-allow-headers"].lower()
        refused = client.options(
            "/session",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        assert "access-control-allow-methods" not in refused.headers


def test_cors_credentialed_request_carries_the_session(served: Served) -> None:
    with served.client() as browser:
        assert browser.get("/session").json() == {"visits": 1}
        answer = browser.post("/session", headers={"origin": ORIGIN, "x-demo": "1"})
        assert answer.json() == {"visits": 2}  # the cookie went along
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        assert answer.headers["access-control-allow-credentials"] == "true"
        exposed = answer.headers["access-control-expose-headers"].lower()
        assert "x-request-id" in exposed and "server-timing" in exposed
        vary = [m.strip().lower() for v in answer.headers.get_list("vary") for m in v.split(",")]
        assert "origin" in vary and "cookie" in vary
        assert len(vary) == len(set(vary)), f"Vary members repeated: {vary}"


def test_session_kept_by_a_cookie_jar(served: Served) -> None:
    with served.client() as browser:
        first = browser.get("/session")
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("session=")
        # Starlette's spelling (lower-case names); browsers match attribute names in any case.
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/"} <= flags, cookie
        visits = [first.json()["visits"]] + [browser.get("/session").json()["visits"] for _ in "ab"]
        assert visits == [1, 2, 3]
    with served.client() as stranger:
        assert stranger.get("/session").json() == {"visits": 1}
        tampered = cookie.split(";")[0][:-4] + "AAAA"
        answer = stranger.get("/session", headers={"cookie": tampered})
        assert answer.json() == {"visits": 1}  # a bad signature gives a fresh session


def _signed(data: dict[str, int], key: str) -> str:
    """A session cookie as anyone holding ``key`` could sign it (Starlette's format)."""
    payload = base64.b64encode(json.dumps(data).encode())
    return "session=" + itsdangerous.TimestampSigner(key).sign(payload).decode()


def test_a_session_forged_with_the_old_fallback_key_is_refused(served: Served) -> None:
    with served.client() as client:
        forged = client.get(
            "/session", headers={"cookie": _signed({"visits": 41}, OLD_FALLBACK_KEY)}
        )
        assert forged.json() == {"visits": 1}
    with served.client() as client:
        # The same cookie signed with the key the server was given is read: the check can fail.
        signed = client.get("/session", headers={"cookie": _signed({"visits": 41}, SESSION_SECRET)})
        assert signed.json() == {"visits": 42}


@pytest.mark.parametrize("value", [None, "", "   \t"], ids=["unset", "empty", "whitespace"])
@pytest.mark.parametrize("module", EXAMPLE_MODULES)
def test_an_example_without_a_key_refuses_to_start(module: str, value: str | None) -> None:
    env = {name: text for name, text in os.environ.items() if name != "SESSION_SECRET"}
    if value is not None:
        env["SESSION_SECRET"] = value
    started = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2
    assert started.stdout == ""
    line = "is not set" if value is None else "is empty"
    assert started.stderr == (
        f"SESSION_SECRET {line}: make a key with "
        'python -c "import secrets; print(secrets.token_urlsafe(32))" and export it as '
        "SESSION_SECRET.\n"
    )


def test_access_log_has_the_request_id_the_response_carried(served: Served) -> None:
    chosen = f"it-{uuid.uuid4().hex}"
    with served.client() as client:
        tagged = client.get("/", headers={"x-request-id": chosen})
        assert tagged.headers["x-request-id"] == chosen
        fresh = client.get("/session", params={"from": "log-test"})
        made = fresh.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    for request_id, target, status in ((chosen, "/", 200), (made, "log-test", 200)):
        line = _log_line(served.access_log, request_id)
        assert "GET" in line and target in line
        assert f" {status} " in line or f'"status":{status}' in line


def test_server_timing(served: Served) -> None:
    with served.client() as client:
        page = client.get("/")
    entries = [entry.strip() for entry in page.headers["server-timing"].split(",")]
    assert re.fullmatch(r"app;dur=\d+\.\d{3}", entries[0])
    assert any(re.fullmatch(r"render;dur=\d+\.\d{3}", entry) for entry in entries[1:])
    assert page.headers["timing-allow-origin"] == "*"


def test_crash_answer_keeps_the_headers(served: Served) -> None:
    # The ASGI layer re-raises after answering, and uvicorn then drops the connection; ask for
    # that up front so a kept-alive connection cannot race the close.
    with served.client() as client:
        crash = client.get("/crash", headers={"origin": ORIGIN, "connection": "close"})
    assert crash.status_code == 500
    if "flask" not in served.target and "django" not in served.target:
        # Flask and Django answer their own 500 page; elsewhere the middleware answers it.
        assert crash.text == "Internal Server Error"
    assert crash.headers["server-timing"].startswith("app;dur=")
    assert crash.headers["access-control-allow-origin"] == ORIGIN
    line = _log_line(served.access_log, crash.headers["x-request-id"])
    assert " 500 " in line or '"status":500' in line
