"""The websocket origin guard (SPEC, WebSocket) end to end: a real client against real servers.

``tests/integration/websocket_cors_app.py`` (an echo websocket behind CORSMiddleware and
SessionMiddleware) runs under uvicorn, hypercorn and Daphne; the ``websockets`` client library
opens handshakes with the session cookie of a signed-in user attached:

- from the allowed origin: the handshake completes, the app reads the session and echoes;
- from another origin (Cross-Site WebSocket Hijacking): refused before the app runs. uvicorn
  and hypercorn offer the ``websocket.http.response`` extension, so the client reads the
  middleware's own 403; Daphne does not, so the middleware closes before accepting and Daphne
  answers the handshake with a 403 of its own. The app's record shows no trace of it;
- without Origin (a client that is not a browser): passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.integration.servers import running

pytestmark = pytest.mark.integration

TARGET = "tests.integration.websocket_cors_app:app"
ALLOWED = "https://allowed.example"
EVIL = "https://evil.example"

# Which refusal each server shows the client: the middleware's 403 through the extension, or
# the server's own 403 after the middleware's websocket.close.
SERVERS = [
    pytest.param(("uvicorn", b"Disallowed CORS origin"), id="uvicorn"),
    pytest.param(("hypercorn", b"Disallowed CORS origin"), id="hypercorn"),
    pytest.param(("daphne", None), id="daphne"),
]


@pytest.fixture
def record(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


def _calls(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


@pytest.fixture(params=SERVERS)
def site(request: pytest.FixtureRequest, record: Path) -> Iterator[tuple[str, bytes | None]]:
    server, body = request.param
    env = {"WS_CORS_ORIGIN": ALLOWED, "WS_CORS_RECORD": str(record)}
    with running(server, TARGET, env=env) as base_url:
        yield base_url, body


def _cookie(base_url: str) -> str:
    """A signed-in user's session cookie, as a browser would attach it to the handshake."""
    answer = httpx.get(base_url + "/login", timeout=10)
    assert answer.status_code == 200
    return f"session={answer.cookies['session']}"


def _open(base_url: str, origin: str | None, cookie: str) -> ClientConnection:
    return connect(
        base_url.replace("http://", "ws://") + "/ws",
        origin=None if origin is None else Origin(origin),
        additional_headers={"Cookie": cookie},
        proxy=None,
        open_timeout=10,
        close_timeout=5,
    )


def test_allowed_origin_handshake_works_end_to_end(
    site: tuple[str, bytes | None], record: Path
) -> None:
    base_url, _ = site
    cookie = _cookie(base_url)
    with _open(base_url, ALLOWED, cookie) as socket:
        assert socket.recv(timeout=10) == "hello alice"
        socket.send("ping")
        assert socket.recv(timeout=10) == "ping"
    assert [c for c in _calls(record) if c["type"] == "websocket"] == [
        {"type": "websocket", "path": "/ws", "origin": ALLOWED, "cookie": True, "user": "alice"}
    ]


def test_cross_origin_handshake_refused_before_the_app(
    site: tuple[str, bytes | None], record: Path
) -> None:
    base_url, body = site
    cookie = _cookie(base_url)
    with pytest.raises(InvalidStatus) as refused:
        _open(base_url, EVIL, cookie)
    response = refused.value.response
    assert response.status_code == 403
    if body is not None:
        # The middleware's own answer, through the websocket.http.response extension.
        assert response.body == body
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    # The app only ever saw the login.
    assert _calls(record) == [
        {"type": "http", "path": "/login", "origin": None, "cookie": False, "user": None}
    ]
    # The server is still serving: the allowed origin gets in afterwards.
    with _open(base_url, ALLOWED, cookie) as socket:
        assert socket.recv(timeout=10) == "hello alice"


def test_handshake_without_origin_passes(site: tuple[str, bytes | None], record: Path) -> None:
    base_url, _ = site
    with _open(base_url, None, _cookie(base_url)) as socket:
        assert socket.recv(timeout=10) == "hello alice"
    assert [c["origin"] for c in _calls(record) if c["type"] == "websocket"] == [None]
