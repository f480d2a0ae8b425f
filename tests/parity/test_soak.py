"""A short soak (bench/soak.py with 1,300 requests per protocol): memory stays flat.

The full run is ``.venv/bin/python bench/soak.py`` (100,000 requests per protocol); this keeps
a leak of a few hundred bytes per request from reaching the main branch unnoticed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bench.soak import soak

REQUESTS = 1_300
# Caches (negotiated Accept-Encoding values, media types) fill and clear in a sawtooth of a few
# tens of KiB; a leak of 100 bytes per request adds 114 KiB over the measured 1,170 requests.
BOUND = 96 * 1024


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    names = ("middleware.access", "middleware.errors", "middleware.sessions")
    saved = [
        (logger, list(logger.handlers), logger.level, logger.propagate)
        for logger in map(logging.getLogger, names)
    ]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_memory_stays_flat(protocol: str) -> None:
    report = soak(protocol, REQUESTS)
    assert report.peak_growth <= BOUND, report
