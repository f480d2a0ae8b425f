"""Decoding bombs sent to real servers (issue 16): a quick, documented answer, and a server that
answers the next request at once.

Before the fix, the 41-byte "gzip, br" body pinned uvicorn's and hypercorn's event loops for
minutes and got a gunicorn sync worker killed at its 30 s timeout. Each server here gets the
bodies of a few shapes that reach the wire in a few dozen bytes (inside br, or nested), then a
plain request; every request has a 10 s client timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.cases.compression import BOMB_CASES, BOMB_SECONDS, BombCase
from tests.integration.servers import running

pytestmark = pytest.mark.integration

APP = "tests.integration.bomb_app"
SERVERS = [
    pytest.param(("uvicorn", f"{APP}:asgi_app"), id="uvicorn"),
    pytest.param(("hypercorn", f"{APP}:asgi_app"), id="hypercorn"),
    pytest.param(("gunicorn-sync", f"{APP}:wsgi_app"), id="gunicorn-sync"),
]
SENT = {
    "issue-16-gzip-br-41-bytes-413",
    "zstd-skippable-frames-in-br-413",
    "deflate-tiny-blocks-in-br-decoded",
    "br-metadata-blocks-in-br-decoded",
    "gzip-bomb-in-zstd-413",
}
CASES = [param for param in BOMB_CASES if param.id in SENT]


@pytest.fixture(scope="module", params=SERVERS)
def base(request: pytest.FixtureRequest) -> Iterator[str]:
    server, target = request.param
    with running(server, target) as url:
        yield url


def test_the_cases_are_all_there() -> None:
    assert len(CASES) == len(SENT)


@pytest.mark.parametrize("case", CASES)
def test_bomb_gets_a_quick_documented_answer(base: str, case: BombCase) -> None:
    request = case.request_case()
    headers = dict(request.request_headers)
    with httpx.Client(base_url=base, timeout=10) as client:
        started = time.perf_counter()
        response = client.post("/", content=request.body, headers=headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == request.status
        if request.status == 200:
            assert request.app_body is not None
            assert response.content == b"%d" % len(request.app_body)
        else:
            assert response.content == request.answer
        assert elapsed < BOMB_SECONDS, f"{elapsed:.2f} s"
        # The server was not left busy: a plain request is answered at once.
        started = time.perf_counter()
        assert client.post("/", content=b"ping").content == b"4"
        assert time.perf_counter() - started < BOMB_SECONDS
