"""The ``serve`` fixture: one request through a middleware stack, on each protocol."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

# The parity runner's checks are plain asserts in helper modules: rewritten, their failures
# show the values compared.
pytest.register_assert_rewrite("tests.drivers", "tests.parity.runner", "tests.parity.vectors")

import middleware.asgi  # noqa: E402
import middleware.wsgi  # noqa: E402
from tests.drivers import Capture, Result, call_asgi, call_wsgi  # noqa: E402
from tests.parity.vectors import (  # noqa: E402
    FlakyStore,
    Probe,
    Reply,
    Request,
    Vector,
    asgi_app,
    server_validates,
    wsgi_app,
)

Wrap = Callable[[ModuleType, Any], Any]


class Server:
    """Runs a request through ``wrap(module, app)`` where module is middleware.wsgi or .asgi.

    ``probe`` counts what the test app did; ``store`` is a session store a stack may use, which
    the runner takes down for a ``Reply(store_fails=...)``.
    """

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.module = middleware.wsgi if protocol == "wsgi" else middleware.asgi
        self.probe = Probe()
        self.store = FlakyStore()

    def __call__(
        self,
        wrap: Wrap,
        vector: Vector | None = None,
        *,
        request: Request | None = None,
        reply: Reply | None = None,
        **options: Any,
    ) -> Result:
        request = request or (vector.request if vector else Request())
        reply = reply or (vector.reply if vector else Reply())
        args = (request.method, request.path, request.query, list(request.headers), request.body)
        if self.protocol == "wsgi":
            if request.leaves_after is not None:
                options.setdefault("stop_after", request.leaves_after)
            options.setdefault("validate", server_validates(reply))
            options.setdefault("catch_late", True)
            return call_wsgi(wrap(self.module, wsgi_app(reply, self.probe)), *args, **options)
        if request.leaves_after is not None:
            options.setdefault("disconnect_after", request.leaves_after)
        return call_asgi(wrap(self.module, asgi_app(reply, self.probe)), *args, **options)


@pytest.fixture(params=["wsgi", "asgi"])
def serve(request: pytest.FixtureRequest) -> Server:
    return Server(request.param)


# CI installs redis-server and Chromium; there, a test that skips for want of one of them would
# hide a broken set-up behind a green run, so .ci/run sets MIDDLEWARE_REQUIRE_SERVICES=1 and such
# a skip fails instead. On a laptop without them, they skip as usual.
SERVICE_SKIPS = ("redis-server", "chromium")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("MIDDLEWARE_REQUIRE_SERVICES") == "1":
        reason = str(report.longrepr)
        if any(service in reason for service in SERVICE_SKIPS):
            report.outcome = "failed"
            report.longrepr = f"skipped in CI, where it must run: {reason}"


@pytest.fixture
def access() -> Iterator[tuple[logging.Logger, Capture]]:
    """A logger of its own for RequestLoggingMiddleware(logger=...), and what it wrote."""
    logger = logging.getLogger(f"tests.access.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    capture = Capture()
    logger.addHandler(capture)
    yield logger, capture
    logger.removeHandler(capture)
