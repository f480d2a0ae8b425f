"""AccessLog: the records it makes from a template are the records makeRecord would make."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from middleware._log_records import AccessLog

FIELDS = {"client": "192.0.2.1", "status": 200, "request_id": "abc"}
# Attributes that differ between any two records made at different moments or places.
MOMENT = {"created", "msecs", "relativeCreated", "msg", "message", "asctime"}


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []
        self.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s %(threadName)s %(process)d %(module)s "
                "%(request_id)s %(message)s"
            )
        )

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def kept() -> Iterator[tuple[logging.Logger, Keep]]:
    logger = logging.getLogger(f"tests.access.{time.monotonic_ns()}")
    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)


def _write(log: AccessLog, line: str, created: float | None = None) -> None:
    log.write(line, dict(FIELDS), time.time() if created is None else created)


def _reference(logger: logging.Logger, line: str) -> logging.LogRecord:
    record = logger.makeRecord(logger.name, logging.INFO, "x", 0, line, (), None)
    record.__dict__.update(FIELDS)
    return record


def _same_except_moment(ours: logging.LogRecord, reference: logging.LogRecord) -> None:
    mine = {k: v for k, v in ours.__dict__.items() if k not in MOMENT}
    theirs = {k: v for k, v in reference.__dict__.items() if k not in MOMENT}
    # The source location names the writer's module in both (makeRecord took "x" above).
    for attributes in (mine, theirs):
        for key in ("pathname", "filename", "module"):
            attributes.pop(key)
    assert mine == theirs
    assert set(ours.__dict__) - {"message", "asctime"} == set(reference.__dict__) - {
        "message",
        "asctime",
    }


def test_a_templated_record_has_every_attribute_of_a_made_one(
    kept: tuple[logging.Logger, Keep],
) -> None:
    logger, handler = kept
    log = AccessLog(logger)
    assert log.template() is not None
    _write(log, "first line")
    _write(log, "second line")
    assert [record.getMessage() for record in handler.records] == ["first line", "second line"]
    assert type(handler.records[0]) is logging.LogRecord
    assert handler.records[0] is not handler.records[1]
    _same_except_moment(handler.records[1], _reference(logger, "second line"))
    expected = f" INFO {logger.name} MainThread {os.getpid()} _log_records abc second line"
    assert handler.lines[1].endswith(expected)


def test_the_time_fields_are_those_of_the_given_moment(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    log = AccessLog(logger)
    _write(log, "line", created=1_700_000_000.4567)
    record = handler.records[0]
    reference = _reference(logger, "line")
    assert record.created == 1_700_000_000.4567
    assert record.msecs == 456.0
    # relativeCreated counts from the same origin as the stdlib's.
    expected = reference.relativeCreated - (reference.created - record.created) * 1000
    assert record.relativeCreated == pytest.approx(expected, abs=1.0)


def test_each_thread_is_named_on_its_own_records(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    log = AccessLog(logger)
    _write(log, "main")
    worker = threading.Thread(target=_write, args=(log, "worker"), name="worker-7")
    worker.start()
    worker.join()
    names = [(record.getMessage(), record.threadName, record.thread) for record in handler.records]
    assert names == [
        ("main", "MainThread", threading.main_thread().ident),
        ("worker", "worker-7", worker.ident),
    ]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="LogRecord.taskName is Python 3.12+")
def test_the_running_task_is_named(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    log = AccessLog(logger)

    async def job() -> None:
        _write(log, "in task")

    async def main() -> None:
        await asyncio.create_task(job(), name="req-1")

    asyncio.run(main())
    assert handler.records[0].taskName == "req-1"  # type: ignore[attr-defined]


def test_a_custom_record_factory_makes_every_record(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    log = AccessLog(logger)
    _write(log, "before")
    original = logging.getLogRecordFactory()

    class Tagged(logging.LogRecord):
        tagged = True

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return Tagged(*args, **kwargs)

    logging.setLogRecordFactory(factory)
    try:
        assert log.template() is None
        _write(log, "during")
    finally:
        logging.setLogRecordFactory(original)
    _write(log, "after")
    assert [type(record).__name__ for record in handler.records] == [
        "LogRecord",
        "Tagged",
        "LogRecord",
    ]
    assert handler.records[1].request_id == "abc"  # type: ignore[attr-defined]


def test_a_logger_class_with_its_own_make_record_makes_every_record() -> None:
    class Stamping(logging.Logger):
        def makeRecord(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
            record = super().makeRecord(*args, **kwargs)
            record.stamp = time.monotonic_ns()
            return record

    logger = Stamping("tests.access.stamping")
    handler = Keep()
    logger.addHandler(handler)
    log = AccessLog(logger)
    assert log.template() is None
    _write(log, "one")
    _write(log, "two")
    stamps = [record.stamp for record in handler.records]  # type: ignore[attr-defined]
    assert stamps[0] != stamps[1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_names_its_own_process(kept: tuple[logging.Logger, Keep]) -> None:
    logger, handler = kept
    log = AccessLog(logger)
    _write(log, "parent")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            _write(log, "child")
            os.write(write, str(handler.records[-1].process).encode())
        finally:
            os._exit(0)
    os.close(write)
    child_logged = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert handler.records[0].process == os.getpid()
    assert child_logged == str(pid)
