"""What each server does to forwarding headers and repeated request IDs, before the middleware.

SECURITY.md ("What `trusted_proxies` means under each server") and the README rely on these
facts; if a server changes, this test fails and the table must change with it. One server
process per row, a few raw requests each (a raw socket, so that duplicate header lines are sent
as written), every wait bounded.

The app (``forwarding_app.py``) trusts 127.0.0.1 as a proxy, and the test connects from
127.0.0.1, so the middleware reads the forwarding headers whenever they reach it.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.servers import running

pytestmark = pytest.mark.integration

TIMEOUT = 5.0
CLIENT_XFF = "203.0.113.9"
CLIENT_FORWARDED = "198.51.100.7"
XFF = ("X-Forwarded-For", f"6.6.6.6, {CLIENT_XFF}")
FORWARDED = ("Forwarded", f"for={CLIENT_FORWARDED}")
TWO_IDS = (("X-Request-ID", "one"), ("X-Request-ID", "two"))


@dataclass(frozen=True)
class Row:
    """One server configuration and what it does.

    ``xff_peer``: the peer the app sees for a request from 127.0.0.1 carrying X-Forwarded-For.
    ``xff_header``: the X-Forwarded-For the app sees then (None: removed by the server).
    ``forwarded_header``: whether Forwarded reaches the app.
    ``both_logged``: the client logged when Forwarded and X-Forwarded-For are both sent.
    ``ids_joined``: the X-Request-ID value the app sees for two lines "one" and "two".
    ``junk_peer``: the peer the app sees, and the client logged, for ``X-Forwarded-For: junk``
    ("junk" where the server takes any text from the header as the client).
    """

    server: str
    target: str
    options: tuple[str, ...]
    xff_peer: str
    xff_header: str | None
    forwarded_header: bool
    both_logged: str
    ids_joined: str
    junk_peer: str = "127.0.0.1"


WSGI = "tests.integration.forwarding_app:wsgi"
ASGI = "tests.integration.forwarding_app:asgi"
LOCAL = "127.0.0.1"

ROWS = [
    # uvicorn's proxy headers are on by default and trust 127.0.0.1 (--forwarded-allow-ips):
    # the client is rewritten from X-Forwarded-For before the middleware runs, the header stays,
    # and the rewritten client, not a trusted proxy, ends the middleware's walk: Forwarded loses.
    pytest.param(
        Row("uvicorn", ASGI, (), CLIENT_XFF, XFF[1], True, CLIENT_XFF, "one,two", "junk"),
        id="uvicorn-default",
    ),
    pytest.param(
        Row(
            "uvicorn",
            ASGI,
            ("--forwarded-allow-ips", ""),
            LOCAL,
            XFF[1],
            True,
            CLIENT_FORWARDED,
            "one,two",
        ),
        id="uvicorn-forwarded-allow-ips-empty",
    ),
    pytest.param(
        Row(
            "uvicorn",
            ASGI,
            ("--no-proxy-headers",),
            LOCAL,
            XFF[1],
            True,
            CLIENT_FORWARDED,
            "one,two",
        ),
        id="uvicorn-no-proxy-headers",
    ),
    pytest.param(
        Row("gunicorn-uvicorn", ASGI, (), CLIENT_XFF, XFF[1], True, CLIENT_XFF, "one,two", "junk"),
        id="gunicorn-uvicorn-worker-default",
    ),
    pytest.param(
        Row(
            "gunicorn-uvicorn",
            ASGI,
            ("--forwarded-allow-ips", ""),
            LOCAL,
            XFF[1],
            True,
            CLIENT_FORWARDED,
            "one,two",
        ),
        id="gunicorn-uvicorn-worker-forwarded-allow-ips-empty",
    ),
    pytest.param(
        Row("hypercorn", ASGI, (), LOCAL, XFF[1], True, CLIENT_FORWARDED, "one,two"),
        id="hypercorn",
    ),
    pytest.param(
        Row("gunicorn-sync", WSGI, (), LOCAL, XFF[1], True, CLIENT_FORWARDED, "one,two"),
        id="gunicorn-sync",
    ),
    pytest.param(
        Row("gunicorn-gthread", WSGI, (), LOCAL, XFF[1], True, CLIENT_FORWARDED, "one,two"),
        id="gunicorn-gthread",
    ),
    # waitress removes every forwarding header it was not told to trust (its
    # clear_untrusted_proxy_headers defaults to True), so trusted_proxies never sees them; it
    # joins repeated lines with ", ".
    pytest.param(
        Row("waitress", WSGI, (), LOCAL, None, False, LOCAL, "one, two"),
        id="waitress-default",
    ),
    pytest.param(
        Row(
            "waitress",
            WSGI,
            ("--no-clear-untrusted-proxy-headers",),
            LOCAL,
            XFF[1],
            True,
            CLIENT_FORWARDED,
            "one, two",
        ),
        id="waitress-no-clear-untrusted-proxy-headers",
    ),
    # With waitress's own proxy options it sets REMOTE_ADDR itself (one hop by default), leaves
    # only that address in X-Forwarded-For and still removes Forwarded.
    pytest.param(
        Row(
            "waitress",
            WSGI,
            ("--trusted-proxy=127.0.0.1", "--trusted-proxy-headers=x-forwarded-for"),
            CLIENT_XFF,
            CLIENT_XFF,
            False,
            CLIENT_XFF,
            "one, two",
            "junk",
        ),
        id="waitress-trusted-proxy",
    ),
    pytest.param(
        Row(
            "waitress",
            WSGI,
            ("--trusted-proxy=127.0.0.1", "--trusted-proxy-headers=forwarded"),
            LOCAL,
            None,
            True,
            CLIENT_FORWARDED,
            "one, two",
        ),
        id="waitress-trusted-proxy-forwarded",
    ),
]


def _exchange(port: int, path: str, headers: tuple[tuple[str, str], ...] = ()) -> Any:
    """One request on its own connection; the JSON body and the X-Request-ID lines."""
    head = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers)]
    request = "\r\n".join([*head, "Connection: close", "", ""]).encode("latin-1")
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendall(request)
        while chunk := sock.recv(65536):
            data += chunk
    response_head, _, body = data.partition(b"\r\n\r\n")
    lines = response_head.decode("latin-1").split("\r\n")
    assert lines[0].split(" ")[1] == "200", lines[0]
    ids = [
        line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("x-request-id:")
    ]
    if b"transfer-encoding: chunked" in response_head.lower():
        body = _unchunk(body)
    return json.loads(body), ids


def _unchunk(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, body = out + body[:size], body[size + 2 :]


def _logged_client(port: int, rid: str) -> str | None:
    """The client the access record of request ``rid`` logged (written after the response)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        found, _ = _exchange(port, f"/record?id={rid}")
        if found["found"] or time.monotonic() > deadline:
            assert found["found"], f"no access record for {rid}"
            client: str | None = found["client"]
            return client
        time.sleep(0.05)


@pytest.mark.parametrize("row", ROWS)
def test_what_reaches_the_middleware(row: Row) -> None:
    with running(row.server, row.target, options=row.options) as base:
        port = urlsplit(base).port
        assert port is not None

        seen, ids = _exchange(port, "/", (XFF,))
        assert (seen["peer"], seen["x_forwarded_for"]) == (row.xff_peer, row.xff_header)

        seen, ids = _exchange(port, "/", (FORWARDED, XFF))
        assert (seen["forwarded"] is not None) == row.forwarded_header
        assert _logged_client(port, ids[0]) == row.both_logged

        # Not an address: where the server rewrites the peer, any text becomes the client; the
        # middleware never takes it from a header (an unusable hop means the peer's address).
        seen, ids = _exchange(port, "/", (("X-Forwarded-For", "junk"),))
        assert seen["peer"] == row.junk_peer
        assert _logged_client(port, ids[0]) == row.junk_peer

        # Two X-Request-ID lines: joined by the server (WSGI) or the middleware (ASGI); the ID
        # kept, echoed once and logged is "one,two" on every server.
        seen, ids = _exchange(port, "/", TWO_IDS)
        assert seen["x_request_id"] == row.ids_joined
        assert seen["request_id"] == "one,two"
        assert ids == ["one,two"]
        assert _logged_client(port, "one,two") is not None
