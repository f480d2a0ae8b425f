"""TimingMiddleware: every behaviour of SPEC's Timing section, through both protocols."""

from __future__ import annotations

import re
from typing import Any

import pytest

from middleware import timing
from middleware.core.timing import Timings
from tests.parity.vectors import Reply, Vector, check, params

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
    check(serve(lambda m, app: m.TimingMiddleware(app), vector), vector)


@pytest.mark.parametrize(
    ("option", "header"),
    [
        pytest.param("*", "*", id="tao-star"),
        pytest.param("https://a.example", "https://a.example", id="tao-origin"),
        pytest.param(
            ["https://a.example", "https://b.example"],
            "https://a.example, https://b.example",
            id="tao-list",
        ),
    ],
)
def test_timing_allow_origin(serve: Any, option: Any, header: str) -> None:
    result = serve(lambda m, app: m.TimingMiddleware(app, timing_allow_origin=option))
    assert result.header_all("timing-allow-origin") == [header]


def test_custom_metric_and_header(serve: Any) -> None:
    result = serve(lambda m, app: m.TimingMiddleware(app, metric="total", header="X-Timing"))
    assert result.header("server-timing") is None
    assert re.fullmatch(f"total;dur={DUR}", result.header("x-timing") or "")


def test_on_complete_gets_total_including_body(serve: Any) -> None:
    seen: list[Timings] = []
    slow = 0.02

    def sleepy(ctx: Any) -> None:
        import time

        time.sleep(slow)

    reply = Reply(chunks=(b"a", b"b"), before=_record(("x", 3)), during=sleepy)
    result = serve(lambda m, app: m.TimingMiddleware(app, on_complete=seen.append), reply=reply)
    assert result.body == b"ab"
    assert len(seen) == 1
    done = seen[0]
    assert done.metrics == (("x", 3.0, None),)
    # Both sleeps happen while the body is produced, after the response started.
    assert done.total_ms >= done.app_ms + 2 * slow * 1000 * 0.9


def test_on_complete_after_crash(serve: Any) -> None:
    seen: list[Timings] = []
    result = serve(
        lambda m, app: m.TimingMiddleware(app, on_complete=seen.append), reply=Reply(raise_at=0)
    )
    assert result.status == 500
    assert len(seen) == 1 and seen[0].total_ms >= seen[0].app_ms


def test_on_complete_exception_is_logged_not_raised(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(timings: Timings) -> None:
        raise RuntimeError("callback bug")

    result = serve(lambda m, app: m.TimingMiddleware(app, on_complete=broken))
    assert result.status == 200 and result.error is None
    assert [r.name for r in caplog.records if r.exc_info] == ["middleware.errors"]


def test_crash_mid_body_propagates(serve: Any) -> None:
    result = serve(
        lambda m, app: m.TimingMiddleware(app), reply=Reply(chunks=(b"a", b"b"), raise_at=1)
    )
    assert result.status == 200
    assert result.body == b"a"
    assert type(result.error).__name__ == "Boom"


def test_invalid_metric_name_raises_in_app(serve: Any) -> None:
    errors: list[Exception] = []

    def bad(ctx: Any) -> None:
        for name in ("bad name", "", "é", "a;b"):
            try:
                timing.record(name, 1)
            except ValueError as exc:
                errors.append(exc)

    result = serve(lambda m, app: m.TimingMiddleware(app), reply=Reply(before=bad))
    assert result.status == 200 and len(errors) == 4
