"""The pure core: HTTP decisions with no environ, no scope, no I/O, no concurrency.

Each feature module takes bytes header lists, ints and bytes and returns what the protocol
adapters in ``middleware.wsgi`` and ``middleware.asgi`` should emit.
"""

from __future__ import annotations
