"""How a request ended, as every feature that reports on it (logging, timing) names it."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """The end of one exchange: the body was sent, the app failed, or the client left."""

    COMPLETED = "completed"
    ERROR = "error"
    DISCONNECTED = "disconnected"
