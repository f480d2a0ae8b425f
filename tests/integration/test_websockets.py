"""Websockets through the whole stack under real servers, with a real client (SPEC, WebSocket).

``tests/integration/websocket_app.py`` (the five middleware in the README's order, the access
log as JSON lines in a file) runs under uvicorn, hypercorn and Daphne, one server per module
run; the ``websockets`` client library opens the connections. Each connection must give
exactly one access record, found by its request ID: protocol "websocket", status 101, the
bytes sent to the client, the close code, and the request ID the app read, which is also the
one on the handshake's answer (Daphne sends no header given on ``websocket.accept``: there the
record and the app agree, and the answer has none). The close code is the one the server
reports: for a client's clean close, uvicorn and Daphne pass the client's code on, hypercorn
reports 1000 only once the app has closed and 1006 (abnormal closure) otherwise.

The cross-origin refusal's behaviour is tested in ``test_websocket_cors.py``; here only its
record is.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.integration.servers import running

pytestmark = pytest.mark.integration

TARGET = "tests.integration.websocket_app:app"
ORIGIN = "https://app.example"
REFUSAL = b"Disallowed CORS origin"


@dataclass(frozen=True)
class Site:
    server: str
    base_url: str
    log: Path
    cookie: str

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://")

    def records(self, rid: str) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [line for line in lines if line["request_id"] == rid]

    def record(self, rid: str) -> dict[str, Any]:
        """The one access record of the connection ``rid``, once it is written."""
        deadline = time.monotonic() + 10
        while not self.records(rid) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a second record would have come by now
        found = self.records(rid)
        assert len(found) == 1, found
        record = found[0]
        assert isinstance(record.pop("duration_ms"), float)
        return record


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn", "daphne"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    server = request.param
    log = tmp_path_factory.mktemp(server) / "access.jsonl"
    with running(server, TARGET, env={"ACCESS_LOG": str(log)}) as base_url:
        login = httpx.get(base_url + "/login", timeout=10)
        assert login.status_code == 200
        yield Site(server, base_url, log, f"session={login.cookies['session']}")


def _open(
    site: Site, path: str = "/ws", *, origin: str = ORIGIN, rid: str | None = None
) -> ClientConnection:
    headers = {"Cookie": site.cookie}
    if rid is not None:
        headers["X-Request-ID"] = rid
    return connect(
        site.ws_url + path,
        origin=Origin(origin),
        additional_headers=headers,
        proxy=None,
        open_timeout=10,
        close_timeout=5,
    )


def _answer_id(site: Site, socket: ClientConnection, rid: str) -> None:
    """The handshake's answer carries the connection's ID (not under Daphne: see the module)."""
    header = socket.response.headers.get("X-Request-ID")
    assert header == (None if site.server == "daphne" else rid)


def test_allowed_handshake_end_to_end_one_record_with_the_close_code(site: Site) -> None:
    with _open(site) as socket:
        greeting = socket.recv(timeout=10)
        assert isinstance(greeting, str)
        hello = json.loads(greeting)
        rid = hello["request_id"]
        assert hello == {"user": "alice", "request_id": rid, "task_request_id": rid}
        _answer_id(site, socket, rid)
        socket.send("ping ✓")
        assert socket.recv(timeout=10) == "ping ✓"
    # The client's clean close (1000), as each server reports it.
    code = 1006 if site.server == "hypercorn" else 1000
    assert site.record(rid) == {
        "client": "127.0.0.1",
        "method": "GET",
        "path": "/ws",
        "query": "",
        "protocol": "websocket",
        "status": 101,
        "bytes": len(greeting.encode()) + len("ping ✓".encode()),
        "user_agent": socket.request.headers["User-Agent"],
        "referer": None,
        "request_id": rid,
        "outcome": "disconnected",
        "close_code": code,
    }


def test_app_close_code_and_the_clients_request_id(site: Site) -> None:
    rid = f"client-{uuid.uuid4().hex}"
    with _open(site, rid=rid) as socket:
        greeting = socket.recv(timeout=10)
        assert json.loads(greeting)["request_id"] == rid
        _answer_id(site, socket, rid)
        socket.send("close 4000")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000
    record = site.record(rid)
    assert (record["status"], record["bytes"]) == (101, len(greeting))
    assert (record["close_code"], record["outcome"]) == (4000, "completed")


def test_messages_after_the_apps_close_are_not_counted(site: Site) -> None:
    rid = f"late-{uuid.uuid4().hex}"
    with _open(site, rid=rid) as socket:
        greeting = socket.recv(timeout=10)
        socket.send("close-then-send")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    record = site.record(rid)
    assert (record["status"], record["bytes"]) == (101, len(greeting))
    assert (record["close_code"], record["outcome"]) == (4001, "completed")


def test_client_gone_before_the_accept(site: Site) -> None:
    rid = f"gone-{uuid.uuid4().hex}"
    url = urlsplit(site.base_url)
    assert url.hostname is not None and url.port is not None
    handshake = (
        f"GET /slow HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nX-Request-ID: {rid}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=5) as client:
        client.sendall(handshake.encode())
        time.sleep(0.3)  # the app has the connect and is deciding
    record = site.record(rid)
    assert (record["path"], record["status"], record["bytes"]) == ("/slow", 499, 0)
    assert (record["close_code"], record["outcome"]) == (1006, "disconnected")


def test_cross_origin_refusal_is_one_record(site: Site) -> None:
    rid = f"refused-{uuid.uuid4().hex}"
    with pytest.raises(InvalidStatus) as refused:
        _open(site, origin="https://evil.example", rid=rid)
    assert refused.value.response.status_code == 403
    record = site.record(rid)
    if site.server == "daphne":
        # No websocket.http.response extension: the guard closes (1008) before the accept.
        assert (record["status"], record["bytes"], record["close_code"]) == (403, 0, 1008)
    else:
        assert refused.value.response.headers["X-Request-ID"] == rid
        assert (record["status"], record["bytes"], record["close_code"]) == (
            403,
            len(REFUSAL),
            None,
        )
    assert record["outcome"] == "completed"


def test_http_records_carry_no_close_code(site: Site) -> None:
    rid = f"http-{uuid.uuid4().hex}"
    response = httpx.get(site.base_url + "/", headers={"X-Request-ID": rid}, timeout=10)
    assert response.headers["X-Request-ID"] == rid
    record = site.record(rid)
    assert (record["protocol"], record["status"], record["close_code"]) == ("HTTP/1.1", 200, None)
