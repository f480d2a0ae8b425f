"""Starlette's own tests for its CORS, GZip and Session middleware, retargeted at our classes.

SPEC ("Starlette drop-in"): Starlette's tests for those three middleware pass against our ASGI
classes, and through WSGI against our WSGI classes, except where a difference is deliberate.
Starlette's test files are not copied here (and there is no network at test time): each module
has one test per Starlette test, with Starlette's name, written anew from the scenario and the
assertions of Starlette's file (``tests/middleware/test_cors.py``, ``test_gzip.py``,
``test_session.py`` of encode/starlette, now Kludex/starlette, as of the installed 1.10).

Every test runs three times (``target``):

- ``starlette``: Starlette's own class, the reference. It must pass everywhere: it shows that
  the rewritten test still says what Starlette's says, about the Starlette that is installed.
- ``asgi``: our ``middleware.asgi`` class in its place, around the same ASGI app, driven by
  Starlette's ``TestClient`` as Starlette's tests drive theirs.
- ``wsgi``: our ``middleware.wsgi`` class around the same endpoint written as a WSGI app, driven
  by httpx's ``WSGITransport`` (no ASGI-to-WSGI bridge library is installed; httpx is the WSGI
  client). A test that needs an ASGI-only feature (pathsend) checks the WSGI counterpart.

A test that fails today on one of ours is a strict xfail listed in ``KNOWN`` (``harness.py``)
with its cause, marked either "drop-in break" (a bug of ours, to fix) or "deliberate" (a row of
docs/starlette-differences.md, with the reason). Fixing a break flips its xfail, which then
fails until the row is removed.

Where the stored copies of Starlette's tests differ from what 1.10's middleware does (the
preflight's Vary gained members), the assertion follows 1.10, as the ``starlette`` column proves.
"""
