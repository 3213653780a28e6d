"""The generated test run by a pytest process started before the test existed
(``WarmPytest``): the same outcome, exit code and log as ``python -m pytest`` started
afterwards, against the code as it is when the test is handed over; a runner left without
a test is ended as soon as that is known; a test past its time limit is killed.

Real processes: the runner is started, then the module and the test are written, then the
test is handed over. A test that must still be running while something is checked waits for
a flag file (no sleeps in this test)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.test_creation import (
    begin_tests_for_changes,
    create_tests_for_changes,
    run_one,
)
from kgents_assets.hub.warm_pytest import WarmPytest, runs_tests
from kgents_assets.store import Store
from tests.repo_helpers import Files

FILES: Files = {
    "calc/__init__.py": "",
    "calc/geometry.py": """
        def perimeter(w, h):
            return 2 * (w + h)
        """,
}

TEST = """
import inspect

from calc.solid import volume


def test_volume():
    assert list(inspect.signature(volume).parameters) == ["w", "h", "d"]
"""


def _timing_free(log: str) -> str:
    """pytest's log without its own duration (``1 passed in 0.01s``)."""
    return re.sub(r" in [\d.]+s", " in Ns", log)


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_a_test_written_after_the_runner_started_runs_against_the_code_then(
    repo: Callable[[Files], Path],
) -> None:
    root = repo(FILES)
    warm = WarmPytest(root)
    # written after the runner started (it is importing pytest meanwhile)
    (root / "calc/solid.py").write_text("def volume(w, h, d):\n    return w * h * d\n")
    (root / "test_solid.py").write_text(TEST)
    run = run_one(root, "test_solid.py", "test_volume", warm=warm)
    assert warm.used
    cold = run_one(root, "test_solid.py", "test_volume")
    assert (run.outcome, run.exit_code, run.pytest_id) == (
        "passed",
        0,
        "test_solid.py::test_volume",
    )
    assert (cold.outcome, cold.exit_code) == (run.outcome, run.exit_code)
    assert _timing_free(run.log) == _timing_free(cold.log)
    assert "1 passed" in run.log

    # the code changed before the hand-over: the warm run sees the change, as a cold one does
    warm = WarmPytest(root)
    (root / "calc/solid.py").write_text("def volume(w, h):\n    return w * h\n")
    run = run_one(root, "test_solid.py", "test_volume", warm=warm)
    cold = run_one(root, "test_solid.py", "test_volume")
    assert (run.outcome, run.exit_code) == ("failed", 1) == (cold.outcome, cold.exit_code)
    assert _timing_free(run.log) == _timing_free(cold.log)
    assert "AssertionError" in run.log


def test_a_module_that_fails_to_import_fails_the_same_way(
    repo: Callable[[Files], Path],
) -> None:
    root = repo(FILES)
    warm = WarmPytest(root)
    (root / "calc/solid.py").write_text("raise RuntimeError('the module refuses to import')\n")
    (root / "test_solid.py").write_text(TEST)
    run = run_one(root, "test_solid.py", "test_volume", warm=warm)
    cold = run_one(root, "test_solid.py", "test_volume")
    assert run.outcome == "failed" and run.exit_code == cold.exit_code != 0
    assert "the module refuses to import" in run.log
    assert _timing_free(run.log) == _timing_free(cold.log)


def test_a_test_past_its_time_limit_is_killed(repo: Callable[[Files], Path]) -> None:
    root = repo(FILES)
    warm = WarmPytest(root)
    pid = warm._proc.pid if warm._proc else 0
    # the test waits for a flag file nobody writes: only the time limit ends it
    (root / "test_wait.py").write_text(
        "import pathlib, time\n\n\ndef test_wait():\n"
        "    while not pathlib.Path('never').exists():\n        time.sleep(0.05)\n"
    )
    run = run_one(root, "test_wait.py", "test_wait", timeout_s=1.0, warm=warm)
    assert run.outcome == "timeout" and run.exit_code is None
    assert "[killed after 1 s]" in run.log
    assert _gone(pid)


def test_a_runner_used_once_then_a_new_process(repo: Callable[[Files], Path]) -> None:
    root = repo(FILES)
    warm = WarmPytest(root)
    (root / "calc/solid.py").write_text("def volume(w, h, d):\n    return w * h * d\n")
    (root / "test_solid.py").write_text(TEST)
    assert run_one(root, "test_solid.py", "test_volume", warm=warm).outcome == "passed"
    assert not warm.available
    with pytest.raises(RuntimeError, match="once"):
        warm.run(["test_solid.py"], 10.0)
    # run_one given a used runner starts its own process, as without one
    assert run_one(root, "test_solid.py", "test_volume", warm=warm).outcome == "passed"


def test_only_levels_that_run_a_skeleton_want_a_runner() -> None:
    assert [runs_tests(level) for level in range(4)] == [False, True, False, True]


@pytest.fixture
def calc(store: Store, repo: Callable[[Files], Path]) -> Path:
    root = repo(FILES)
    refresh_repository(store, root, repo="calc")
    assert create_tests_for_changes(store, "calc", root, 1).baseline
    return root


def test_begun_creation_runs_its_first_skeleton_in_the_runner(store: Store, calc: Path) -> None:
    root = calc
    warm = WarmPytest(root)
    (root / "calc/solid.py").write_text("def volume(w, h, d):\n    return w * h * d\n")
    refresh_repository(store, root, repo="calc")
    pending = begin_tests_for_changes(store, "calc", root, 1, warm=warm)
    assert pending.started and warm.used
    report = pending.finish()
    assert [(r.outcome, r.test_path) for r in report.runs] == [
        ("passed", ".agentfs/tests/test_calc_solid_volume.py")
    ]
    markdown = (root / ".agentfs/nodes/calc/solid.py/volume.md").read_text()
    assert "- last result: **passed**" in markdown


def test_a_runner_with_nothing_to_run_is_ended_at_once(store: Store, calc: Path) -> None:
    root = calc
    warm = WarmPytest(root)
    pid = warm._proc.pid if warm._proc else 0
    # a private function: no skeleton, so nothing for the runner
    (root / "calc/solid.py").write_text("def _volume(w, h, d):\n    return w * h * d\n")
    refresh_repository(store, root, repo="calc")
    pending = begin_tests_for_changes(store, "calc", root, 1, warm=warm)
    assert not pending.started
    assert not warm.available and not warm.used and _gone(pid)  # ended before finish
    assert pending.finish().runs == []
