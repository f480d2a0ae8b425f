"""``Middleware`` layer specs and ``compose``, shared by both protocols.

    stack = compose(
        TimingMiddleware,
        Middleware(CORSMiddleware, allow_origins=["https://example.com"]),
    )
    app = stack(app)  # TimingMiddleware is the outermost layer

The first layer is the outermost, as in Starlette's ``middleware=[...]`` list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


class Middleware:
    """A middleware class with the options to build it with.

    It unpacks as ``(cls, args, kwargs)``, the shape Starlette's ``middleware=[...]`` list
    expects, so one spec serves both ``compose`` and ``Starlette(middleware=...)``.
    """

    __slots__ = ("args", "cls", "kwargs")

    def __init__(self, cls: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        if not callable(cls):
            raise TypeError(f"Middleware needs a middleware class, got {cls!r}.")
        self.cls = cls
        self.args = args
        self.kwargs = kwargs

    def __iter__(self) -> Iterator[Any]:
        return iter((self.cls, self.args, self.kwargs))

    def __repr__(self) -> str:
        name = getattr(self.cls, "__name__", repr(self.cls))
        options = [repr(arg) for arg in self.args]
        options += [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"Middleware({', '.join([name, *options])})"


def compose(protocol: str, layers: tuple[Any, ...]) -> Callable[[Any], Any]:
    """Build the decorator for ``middleware.<protocol>.compose``."""
    specs = [layer if isinstance(layer, Middleware) else Middleware(layer) for layer in layers]
    for spec in specs:
        theirs = getattr(spec.cls, "_middleware_protocol", protocol)
        if theirs != protocol:
            name = getattr(spec.cls, "__name__", repr(spec.cls))
            raise TypeError(
                f"middleware.{protocol}.compose was given middleware.{theirs}.{name}; "
                f"use middleware.{protocol}.{name} in a {protocol.upper()} stack."
            )

    def wrap(app: Any) -> Any:
        for spec in reversed(specs):
            app = spec.cls(app, *spec.args, **spec.kwargs)
        return app

    return wrap
