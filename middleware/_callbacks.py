"""Calling user callbacks after a response, where an exception can no longer be answered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

errors = logging.getLogger("middleware.errors")


def call_quietly(callback: Callable[..., Any], *args: Any) -> None:
    """Call ``callback``; log an exception on ``middleware.errors`` instead of raising it.

    The response has already been sent when these callbacks run, so raising would only turn
    a served request into a server error log without telling the client anything.
    """
    try:
        callback(*args)
    except Exception:
        errors.exception("%r raised after the response was sent", callback)
