"""Access lines onto a logger at INFO, without building every LogRecord from scratch.

``logger.info(line, extra=fields)`` looks up its caller's frame and works out a dozen
attributes (file and module names, level name, process name) that are the same on every access
line; only the time, the thread, the message and the access fields change. ``AccessLog`` makes
one record with the logger's own ``makeRecord``, keeps its attributes as a template and makes
each access record as a copy with those values replaced: the record handlers, filters and
formatters receive is the one ``makeRecord`` would have made.

A custom record factory (``logging.setLogRecordFactory``) is always honoured: while one is
installed every record comes from it. A forked child (a gunicorn worker) makes a new template,
so ``process`` and ``processName`` are its own.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

__all__ = ["AccessLog"]

INFO = logging.INFO
_LogRecord = logging.LogRecord
_new_record = object.__new__
_get_factory = logging.getLogRecordFactory
_get_ident = threading.get_ident
_current_thread = threading.current_thread

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


class AccessLog:
    """Writes access lines with their fields on ``logger``; call ``enabled()`` first."""

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

    def write(self, line: str, attributes: dict[str, Any], created: float, templated: bool) -> None:
        """Log ``line`` at INFO, the record carrying ``attributes``, created at ``created``.

        ``templated``: ``attributes`` starts with a copy of ``template()`` (which was not None),
        and becomes the record's own. Otherwise they are added to a record from makeRecord.
        ``created`` is the wall-clock time (epoch seconds) the caller already read.
        """
        logger = self.logger
        if not templated:
            record = logger.makeRecord(logger.name, INFO, __file__, 0, line, (), None)
            record.__dict__.update(attributes)
            logger.handle(record)
            return
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
        record = _new_record(_LogRecord)
        record.__dict__ = attributes
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
