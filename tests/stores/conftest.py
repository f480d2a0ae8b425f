"""Fixtures for the session store tests: a real redis-server, once per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.redis_server import REDIS_SERVER, RedisServer


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server on a free 127.0.0.1 port for this module (skips when not installed)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer() as server:
        yield server
