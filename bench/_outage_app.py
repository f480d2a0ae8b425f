"""The app ``bench/store_outage.py`` serves: ``tests/integration/fault_apps.py`` (the README's
stack, a ``RedisStore`` session at ``REDIS_URL``), with the ``middleware`` package of the
checkout at ``BENCH_MIDDLEWARE_ROOT`` (default: this one), so an older commit can be measured
with the same app: ``git worktree add /tmp/old <commit>``, then ``--root /tmp/old``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("BENCH_MIDDLEWARE_ROOT", str(ROOT)))

_spec = importlib.util.spec_from_file_location(
    "_fault_apps", ROOT / "tests" / "integration" / "fault_apps.py"
)
assert _spec is not None and _spec.loader is not None
_fault_apps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fault_apps)

wsgi_app = _fault_apps.wsgi_app
asgi_app = _fault_apps.asgi_app

# The script checks which checkout's middleware the server imported.
logging.getLogger("bench").info("middleware from %s", sys.modules["middleware"].__file__)
