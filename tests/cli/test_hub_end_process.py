"""``kg hub --once`` after an in-process refresh ends its process without the interpreter's
teardown, once its output is written and its exit handlers ran; the no-op exits as ever.

The ``kg`` executable runs with a ``sitecustomize`` module of this test's making: it
registers an exit handler (writes ``atexit.PID``) and keeps an object whose finalizer runs
only in the interpreter's teardown (writes ``teardown.PID``): what the process left says
how it ended.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.recorders import hub_environment
from tests.executables import project_executable
from tests.repo_helpers import Files

KG = project_executable("kg")
SOURCE = "def main():\n    return helper()\n\n\ndef helper():\n    return 1\n"
SITECUSTOMIZE = """
import atexit, os, pathlib

_marks = pathlib.Path(os.environ["KG_TEST_MARKS"])
atexit.register(lambda: (_marks / f"atexit.{os.getpid()}").write_text("ran"))


class _AtTeardown:
    def __del__(self):
        (_marks / f"teardown.{os.getpid()}").write_text("ran")


_kept = _AtTeardown()
"""


@pytest.fixture
def env(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    yield from hub_environment(database_url, tmp_path, monkeypatch)


def _kg(root: Path, env: dict[str, str], marks: Path) -> subprocess.CompletedProcess[str]:
    """``kg hub --once ROOT --json`` with the marking ``sitecustomize``; ``marks`` emptied.
    Its ``args`` end with the process's pid (the command's children, the recorder and the
    generated test's pytest, mark their own exits too)."""
    site = marks.parent / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    marks.mkdir(exist_ok=True)
    for mark in marks.iterdir():
        mark.unlink()
    path = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    args = [sys.executable, KG, "hub", "--once", str(root), "--json"]
    with subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONPATH": path, "KG_TEST_MARKS": str(marks)},
    ) as proc:
        out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess([*args, str(proc.pid)], proc.returncode, out, err)


def _left(marks: Path, done: subprocess.CompletedProcess[str]) -> set[str]:
    """The marks the ``kg`` process itself left."""
    pid = done.args[-1]
    return {p.name.split(".")[0] for p in marks.iterdir() if p.suffix == f".{pid}"}


@pytest.mark.slow
@pytest.mark.timeout(900)  # a first real run, then an edit and a no-op
def test_an_in_process_edit_ends_after_its_output_and_exit_handlers(
    repo: Callable[[Files], Path], env: dict[str, str], tmp_path: Path
) -> None:
    root = repo({"app.py": SOURCE})
    marks = tmp_path / "marks"
    first = _kg(root, env, marks)
    assert first.returncode == 0, first.stderr[-3000:]
    assert json.loads(first.stdout)["run_id"]  # a Dagster run: its exit is the usual one

    (root / "app.py").write_text("def main():\n    return 2\n")
    edited = _kg(root, env, marks)
    assert edited.returncode == 0, edited.stderr[-3000:]
    summary = json.loads(edited.stdout)  # the whole summary was written out
    assert summary["in_process"] is True and summary["success"] is True
    assert summary["recorded"] == "pending"
    # the exit handlers ran; the teardown did not
    assert _left(marks, edited) == {"atexit"}

    nothing = _kg(root, env, marks)  # waits for the edit's record, then the usual exit
    assert nothing.returncode == 0, nothing.stderr[-3000:]
    assert json.loads(nothing.stdout)["last_run_id"] == summary["refresh_id"]
    assert _left(marks, nothing) == {"atexit", "teardown"}
