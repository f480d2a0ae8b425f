"""The key that signs the examples' session cookies, read from ``$SESSION_SECRET``.

No example carries a key in its source: a key anyone can read lets anyone forge a session. Make
one with ``python -c "import secrets; print(secrets.token_urlsafe(32))"`` and export it as
``SESSION_SECRET``; without it (or with only whitespace in it) an example refuses to start with
one line that says so. ``examples/demo.py`` makes a random key for each run instead.
"""

from __future__ import annotations

import os
import sys

HOW = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def session_secret() -> str:
    """``$SESSION_SECRET``, or exit with a one-line error when it is unset or blank."""
    secret = os.environ.get("SESSION_SECRET", "")
    if not secret.strip():
        state = "is empty" if "SESSION_SECRET" in os.environ else "is not set"
        print(
            f"SESSION_SECRET {state}: make a key with {HOW} and export it as SESSION_SECRET.",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(2)
    return secret
