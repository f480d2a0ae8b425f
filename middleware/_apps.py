"""What kind of application a middleware was given, so a mix-up fails at construction."""

from __future__ import annotations

import inspect
from typing import Any, Literal

Kind = Literal["wsgi", "asgi3", "asgi2", "unknown"]


def app_kind(app: Any) -> Kind:
    """Classify ``app`` as a WSGI callable, an ASGI 3 or ASGI 2 application, or unknown."""
    marked = getattr(app, "_middleware_protocol", None)
    if marked == "wsgi":
        return "wsgi"
    if marked == "asgi":
        return "asgi3"
    call: Any = app
    if not (inspect.isfunction(app) or inspect.ismethod(app) or inspect.isclass(app)):
        # An instance: what matters is its __call__ (ASGI 2 apps are classes called with the
        # scope, so a class itself is judged by its constructor).
        call = app.__call__ if callable(app) else None
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        return "asgi3"
    try:
        parameters = inspect.signature(call).parameters.values()
    except (TypeError, ValueError):
        return "unknown"
    kinds = {p.kind for p in parameters}
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return "unknown"
    required = [
        p
        for p in parameters
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return {1: "asgi2", 2: "wsgi", 3: "asgi3"}.get(len(required), "unknown")  # type: ignore[return-value]


def mismatch(cls_name: str, expected: str, app: Any) -> TypeError:
    """The TypeError raised when a WSGI class wraps an ASGI app, or the reverse."""
    other = "asgi" if expected == "wsgi" else "wsgi"
    return TypeError(
        f"middleware.{expected}.{cls_name} wraps {expected.upper()} applications, but {app!r} "
        f"is an {other.upper()} application; use middleware.{other}.{cls_name} instead."
    )
