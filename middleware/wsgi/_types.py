"""The PEP 3333 types every WSGI module names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol, TypeAlias

__all__ = ["Environ", "ExcInfo", "NativeHeaders", "StartResponse", "WSGIApp", "Write"]

Environ: TypeAlias = dict[str, Any]
#: Response headers as PEP 3333 has them: native strings, names in any case.
NativeHeaders: TypeAlias = list[tuple[str, str]]
ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]
Write: TypeAlias = Callable[[bytes], object]


class StartResponse(Protocol):
    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = ..., /
    ) -> Write: ...


WSGIApp: TypeAlias = Callable[[Environ, StartResponse], Iterable[bytes]]
