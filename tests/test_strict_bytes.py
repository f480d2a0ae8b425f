"""The suite's bytes/str strictness: our mix-ups fail the run, third-party ones do not.

The README runs the suite under ``python -b``, which makes every comparison of bytes with str a
BytesWarning, and pyproject's ``filterwarnings`` turns that warning into an error except in the
third-party modules it names (redis-py compares ``b"c"`` with ``"c"`` at import time). These tests
pin both halves, in this process and in a fresh pytest run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from middleware.core import headers

ROOT = Path(__file__).resolve().parent.parent


def test_the_suite_runs_under_python_b() -> None:
    assert sys.flags.bytes_warning >= 1, "run the suite as the README does: python -b -m pytest"


def test_a_bytes_str_comparison_inside_middleware_is_an_error() -> None:
    with pytest.raises(BytesWarning):
        headers.get([(b"vary", b"origin")], "vary")  # type: ignore[arg-type]


def test_a_bytes_str_comparison_inside_an_exempt_module_is_not() -> None:
    code = compile("b'c' == 'c'", "<redis>", "eval")
    assert eval(code, {"__name__": "redis.connection"}) is False


def test_the_mix_up_fails_a_whole_run(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            from middleware.core import headers

            def test_mix_up():
                headers.get([(b"vary", b"origin")], "vary")
            """
        )
    )
    run = subprocess.run(
        [
            sys.executable,
            "-b",
            "-m",
            "pytest",
            "-q",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            str(probe),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "BytesWarning: Comparison between bytes and string" in run.stdout
