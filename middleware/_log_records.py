"""Access lines onto a logger at INFO, without building every LogRecord from scratch.

``logger.info(line, extra=fields)`` looks up its caller's frame and works out a dozen
attributes (file and module names, level name, process name) that are the same on every access
line; only the time, the thread, the message and the access fields change. ``AccessLog`` makes
one record with the logger's own ``makeRecord``, keeps its attributes as a template and makes
each access record from a copy of them with those values replaced: the record handlers,
filters and formatters receive is the one ``makeRecord`` would have made.

A custom record factory (``logging.setLogRecordFactory``) is always honoured: while one is
installed every record comes from it. A forked child (a gunicorn worker) makes a new template,
so ``process`` and ``processName`` are its own.

``AccessLog.finish`` is what both adapters call once a request is over: nothing is built unless
the logger takes INFO records.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .core.request_logging import RequestLog

__all__ = ["AccessLog"]

INFO = logging.INFO
_LogRecord = logging.LogRecord
_get_factory = logging.getLogRecordFactory
_get_ident = threading.get_ident
_current_thread = threading.current_thread
errors = logging.getLogger("middleware.errors")

# Bumped in a forked child: templates made before the fork name the parent process.
_generation = [0]
os.register_at_fork(after_in_child=lambda: _generation.__setitem__(0, _generation[0] + 1))


def _task_name() -> str | None:
    # Python 3.12+: the running asyncio task's name, as LogRecord finds it.
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.current_task().get_name()  # type: ignore[no-any-return]
    except Exception:
        return None


def _blank_record() -> logging.LogRecord:
    # A LogRecord whose __init__ has not run: every attribute comes from the template, which
    # makeRecord made, so a line costs two dict updates instead of LogRecord() (about 1.1 µs).
    return object.__new__(_LogRecord)


class AccessLog:
    """Writes access lines with their fields on ``logger``."""

    __slots__ = ("_generation", "_started", "_stock", "_template", "logger")

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        # A Logger subclass with its own makeRecord may vary what it adds: it makes every record.
        self._stock = getattr(type(logger), "makeRecord", None) is logging.Logger.makeRecord
        self._template: dict[str, Any] | None = None
        self._generation = -1
        self._started = 0.0

    def enabled(self) -> bool:
        """Whether the logger takes INFO records (nothing is built when it does not)."""
        return self.logger.isEnabledFor(INFO)

    def template(self) -> dict[str, Any] | None:
        """The attributes every record shares (not to be changed), or None.

        None means records come from the logger's ``makeRecord``: a custom record factory is
        installed, or the logger's class has its own ``makeRecord``.
        """
        if _get_factory() is not _LogRecord or not self._stock:
            return None
        template = self._template
        if template is None or self._generation != _generation[0]:
            template = self._make_template()
        return template

    def finish(self, log: RequestLog, clock: Callable[[], float]) -> None:
        """Write the record of the request ``log`` followed, once the app is done; ``clock``
        is the monotonic clock of ``log``'s ``begin``. Nothing is built when the logger does
        not take INFO records or the path is excluded.

        Never raises: the response has been sent, so an exception (a callable format's) is
        logged on ``middleware.errors`` instead.
        """
        try:
            if not self.logger.isEnabledFor(INFO):
                return
            now = clock()
            created = time.time()
            entry = log.end(now=now, wall=created)
            if entry is not None:
                fields, line = entry
                self.write(line, fields, created)
        except Exception:
            errors.exception("The access record of request %s could not be written", log.request_id)

    def write(self, line: str, fields: dict[str, Any], created: float) -> None:
        """Log ``line`` at INFO, the record carrying ``fields`` as attributes, created at
        ``created`` (the wall-clock time, epoch seconds, the caller already read)."""
        logger = self.logger
        template = self.template()
        if template is None:
            record = logger.makeRecord(logger.name, INFO, __file__, 0, line, (), None)
            vars(record).update(fields)
            logger.handle(record)
            return
        record = _blank_record()
        attributes = vars(record)
        attributes.update(template)
        attributes.update(fields)
        attributes["msg"] = line
        attributes["created"] = created
        # As LogRecord computes them: whole milliseconds, and milliseconds since logging loaded.
        attributes["msecs"] = (created - int(created)) * 1000 // 1
        attributes["relativeCreated"] = (created - self._started) * 1000
        if logging.logThreads:
            attributes["thread"] = _get_ident()
            attributes["threadName"] = _current_thread().name
        if "taskName" in attributes and logging.logAsyncioTasks:  # type: ignore[attr-defined]
            attributes["taskName"] = _task_name()
        logger.handle(record)

    def _make_template(self) -> dict[str, Any]:
        logger = self.logger
        # The logger's own makeRecord (a Logger subclass may add attributes), with the
        # arguments the access lines always use; "msg" and the time fields are replaced.
        sample = logger.makeRecord(logger.name, INFO, __file__, 0, "", (), None)
        template = dict(sample.__dict__)
        self._started = sample.created - sample.relativeCreated / 1000
        self._template = template
        self._generation = _generation[0]
        return template
