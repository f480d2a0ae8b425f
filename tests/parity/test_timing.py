"""TimingMiddleware: every behaviour of SPEC's Timing section, through both protocols."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from middleware import timing
from middleware.core.timing import Timings
from tests.parity.runner import run_vector
from tests.parity.vectors import Boom, Log, Reply, Request, Vector, params

DUR = r"[0-9]+(\.[0-9]{1,3})?"


def _record(*metrics: tuple[Any, ...]) -> Any:
    def hook(ctx: Any) -> None:
        for metric in metrics:
            timing.record(*metric)

    return hook


def _measure(ctx: Any) -> None:
    with timing.measure("db", "rows"):
        pass


VECTORS = [
    Vector(
        id="app-duration",
        reply=Reply(chunks=(b"hi",)),
        headers={"server-timing": re.compile(f"app;dur={DUR}"), "timing-allow-origin": None},
        body=b"hi",
    ),
    Vector(
        id="recorded-metrics-in-order",
        reply=Reply(before=_record(("cache", 1.5), ("db", 12.25, "users"))),
        headers={
            "server-timing": re.compile(
                f'app;dur={DUR}, cache;dur=1.500, db;dur=12.250;desc="users"'
            )
        },
    ),
    Vector(
        id="measure-context-manager",
        reply=Reply(before=_measure),
        headers={"server-timing": re.compile(f'app;dur={DUR}, db;dur={DUR};desc="rows"')},
    ),
    Vector(
        id="description-quoted-and-escaped",
        reply=Reply(before=_record(("q", 1, 'say "hi" \\ \r\nnow'))),
        headers={
            "server-timing": re.compile(
                f'app;dur={DUR}, q;dur=1.000;desc="say \\\\"hi\\\\" \\\\\\\\ \\?\\?now"'
            )
        },
    ),
    Vector(
        id="metric-after-start-not-in-header",
        reply=Reply(chunks=(b"a", b"b"), during=_record(("late", 2))),
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
        body=b"ab",
    ),
    Vector(
        id="error-status-still-timed",
        reply=Reply(status=404, chunks=(b"nope",)),
        status=404,
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
    ),
    Vector(
        id="crash-keeps-header",
        reply=Reply(raise_at=0),
        status=500,
        headers={
            "server-timing": re.compile(f"app;dur={DUR}"),
            "content-type": "text/plain; charset=utf-8",
        },
        body=b"Internal Server Error",
        crash=Boom,
    ),
    Vector(
        id="crash-mid-body-propagates",
        reply=Reply(chunks=(b"a", b"b"), raise_at=1),
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
        body=b"a",
        raises=Boom,
    ),
    Vector(
        id="crash-after-written-propagates",
        reply=Reply(written=(b"a",), chunks=(b"b",), raise_at=1),
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
        body=b"a",
        raises=Boom,
    ),
    Vector(
        id="written-body",
        reply=Reply(written=(b"a", b""), chunks=(b"b",)),
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
        body=b"ab",
    ),
    Vector(
        id="metric-after-the-start-not-in-header",
        reply=Reply(start_first=True, before=_record(("late", 2))),
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
    ),
    Vector(
        id="lazy-start",
        reply=Reply(lazy=True, before=_record(("late", 2))),
        headers={"server-timing": re.compile(f"app;dur={DUR}, late;dur=2.000")},
    ),
    Vector(
        id="empty-body",
        reply=Reply(status=204, headers=(), chunks=()),
        status=204,
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
        body=b"",
    ),
]


@pytest.mark.parametrize("vector", params(VECTORS))
def test_timing_vectors(serve: Any, vector: Vector) -> None:
    run_vector(serve, lambda m, app: m.TimingMiddleware(app), vector)


OPTION_VECTORS = [
    pytest.param(
        {"timing_allow_origin": option},
        Vector(
            id=id,
            headers={"timing-allow-origin": header, "server-timing": re.compile(f"app;dur={DUR}")},
        ),
        id=id,
    )
    for id, option, header in [
        ("tao-star", "*", "*"),
        ("tao-origin", "https://a.example", "https://a.example"),
        (
            "tao-list",
            ["https://a.example", "https://b.example"],
            "https://a.example, https://b.example",
        ),
    ]
] + [
    pytest.param(
        {"metric": "total", "header": "X-Timing"},
        Vector(
            id="custom-metric-and-header",
            headers={"server-timing": None, "x-timing": re.compile(f"total;dur={DUR}")},
        ),
        id="custom-metric-and-header",
    ),
]


@pytest.mark.parametrize(("options", "vector"), OPTION_VECTORS)
def test_timing_options(serve: Any, options: dict[str, Any], vector: Vector) -> None:
    run_vector(serve, lambda m, app: m.TimingMiddleware(app, **options), vector)


def _sleepy(ctx: Any) -> None:
    time.sleep(SLOW)


SLOW = 0.02
COMPLETE_VECTORS = [
    # Both sleeps happen while the body is produced, after the response started.
    Vector(
        id="total-includes-body",
        reply=Reply(chunks=(b"a", b"b"), before=_record(("x", 3)), during=_sleepy),
        body=b"ab",
    ),
    Vector(
        id="after-crash",
        reply=Reply(raise_at=0),
        status=500,
        body=b"Internal Server Error",
        crash=Boom,
    ),
    Vector(
        id="after-crash-mid-body",
        reply=Reply(chunks=(b"a", b"b"), raise_at=1, during=_sleepy),
        body=b"a",
        raises=Boom,
    ),
    Vector(
        id="after-client-left",
        request=Request(leaves_after=1),
        reply=Reply(chunks=(b"a", b"b", b"c"), during=_sleepy),
        body=b"a",
        # ASGI: the server's send failed (OSError, as uvicorn's); it propagates.
        differs={"asgi": {"raises": OSError}},
    ),
]


@pytest.mark.parametrize("vector", params(COMPLETE_VECTORS))
def test_on_complete_runs_once(serve: Any, vector: Vector) -> None:
    seen: list[Timings] = []
    run_vector(serve, lambda m, app: m.TimingMiddleware(app, on_complete=seen.append), vector)
    assert len(seen) == 1
    done = seen[0]
    assert done.total_ms >= done.app_ms
    if vector.id == "total-includes-body":
        assert done.metrics == (("x", 3.0, None),)
        assert done.total_ms >= done.app_ms + 2 * SLOW * 1000 * 0.9


def _broken(timings: Timings) -> None:
    raise RuntimeError("callback bug")


def test_on_complete_exception_is_logged_not_raised(serve: Any) -> None:
    vector = Vector(
        id="on-complete-raises",
        logs=(
            Log(
                logger="middleware.errors",
                level=logging.ERROR,
                message=re.compile(r".*broken.* raised after the response was sent"),
                traceback=True,
            ),
        ),
    )
    run_vector(serve, lambda m, app: m.TimingMiddleware(app, on_complete=_broken), vector)


def test_invalid_metric_name_raises_in_app(serve: Any) -> None:
    errors: list[Exception] = []

    def bad(ctx: Any) -> None:
        for name in ("bad name", "", "é", "a;b"):
            try:
                timing.record(name, 1)
            except ValueError as exc:
                errors.append(exc)

    vector = Vector(
        id="invalid-metric-names",
        reply=Reply(before=bad),
        headers={"server-timing": re.compile(f"app;dur={DUR}")},
    )
    run_vector(serve, lambda m, app: m.TimingMiddleware(app), vector)
    assert len(errors) == 4
