"""Test creation begun early (``begin_tests_for_changes``): the skeleton's pytest runs
while the caller does other work, and ``finish`` reports, records and annotates exactly
what ``create_tests_for_changes`` does: a pass, a failure (the file taken out of tests/
again and kept under .agentfs/), and a proposal waiting to be settled, which keeps the
whole step for ``finish``.

The generated test imports the new function's module, which here waits for a flag file
before it finishes importing: the test is provably still running while this test checks
that nothing was recorded yet, then the flag lets it end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.test_creation import begin_tests_for_changes, create_tests_for_changes
from kgents_assets.store import Store
from tests.repo_helpers import Files

FILES: Files = {
    "calc/__init__.py": "",
    "calc/geometry.py": """
        def perimeter(w, h):
            return 2 * (w + h)
        """,
    "tests/test_geometry.py": """
        from calc.geometry import perimeter


        def test_perimeter():
            assert perimeter(1, 2) == 6
        """,
}

#: a module that finishes importing only once ``release`` exists, then raises when
#: ``fail`` exists: the generated test is still running until the test lets it go
GATED = """
import pathlib
import time

_here = pathlib.Path(__file__).resolve().parent.parent
while not (_here / "release").exists():
    time.sleep(0.02)
if (_here / "fail").exists():
    raise RuntimeError("the module refuses to import")


def volume(w, h, d):
    return w * h * d
"""


@pytest.fixture
def calc(store: Store, repo: Callable[[Files], Path]) -> Path:
    root = repo(FILES)
    refresh_repository(store, root, repo="calc")
    assert create_tests_for_changes(store, "calc", root, 1).baseline
    (root / "calc/solid.py").write_text(GATED)
    refresh_repository(store, root, repo="calc")
    return root


def recorded(store: Store) -> list[tuple[str, str | None]]:
    with store.connect() as conn:
        rows = conn.execute("SELECT outcome, test_path FROM hub_test_runs ORDER BY id").fetchall()
    return [(r[0], r[1]) for r in rows]


def journal(store: Store) -> list[str]:
    with store.connect() as conn:
        return [r[0] for r in conn.execute("SELECT kind FROM hub_artifacts ORDER BY id")]


def test_the_test_runs_meanwhile_and_its_pass_is_in_the_report(store: Store, calc: Path) -> None:
    root = calc
    pending = begin_tests_for_changes(store, "calc", root, 1)
    assert pending.started
    written = root / ".agentfs/tests/test_calc_solid_volume.py"
    assert written.is_file()  # written at once, its pytest under way
    # the other steps' time: the test cannot have ended (its module waits), nothing recorded
    assert recorded(store) == [] and journal(store) == []
    (root / "release").touch()
    report = pending.finish()
    summary = report.summary()
    assert (summary["created"], summary["ran"], summary["passed"], summary["failed"]) == (
        1,
        1,
        1,
        0,
    )
    assert summary["paths"] == [".agentfs/tests/test_calc_solid_volume.py"]
    assert recorded(store) == [("passed", ".agentfs/tests/test_calc_solid_volume.py")]
    assert journal(store) == ["test_created"]
    markdown = (root / ".agentfs/nodes/calc/solid.py/volume.md").read_text()
    assert "- last result: **passed**" in markdown
    # handled once: the next refresh has nothing to do
    again = create_tests_for_changes(store, "calc", root, 1)
    assert (again.new_or_changed, again.runs) == (0, [])


def test_a_failing_generated_test_is_reported_as_before(store: Store, calc: Path) -> None:
    root = calc
    (root / "fail").touch()
    pending = begin_tests_for_changes(store, "calc", root, 3)  # trust 3: into tests/
    assert pending.started
    assert (root / "tests/test_calc_solid_volume.py").is_file()
    assert recorded(store) == []
    (root / "release").touch()
    report = pending.finish()
    (run,) = report.runs
    assert run.outcome == "failed" and run.exit_code not in (0, None)
    assert "the module refuses to import" in run.log
    # taken out of tests/ again, kept under .agentfs/ to read, as create_test does
    assert not (root / "tests/test_calc_solid_volume.py").exists()
    assert (root / ".agentfs/tests/test_calc_solid_volume.py").is_file()
    assert report.summary()["failed"] == 1
    assert recorded(store) == [("failed", "tests/test_calc_solid_volume.py")]
    markdown = (root / ".agentfs/nodes/calc/solid.py/volume.md").read_text()
    assert "- last result: **failed**" in markdown


def test_a_proposal_waiting_to_be_settled_keeps_everything_for_finish(
    store: Store, calc: Path
) -> None:
    root = calc
    (root / "release").touch()
    proposed = create_tests_for_changes(store, "calc", root, 2)  # trust 2: asks a person
    assert [r.outcome for r in proposed.runs] == ["awaiting_human"]
    geometry = root / "calc/geometry.py"
    geometry.write_text(geometry.read_text() + "\n\ndef scale(x, k):\n    return x * k\n")
    refresh_repository(store, root, repo="calc")
    pending = begin_tests_for_changes(store, "calc", root, 1)
    assert not pending.started  # settling comes first: nothing begun
    assert not (root / ".agentfs/tests/test_calc_geometry_scale.py").exists()
    report = pending.finish()
    assert [(r.outcome, r.test_path) for r in report.runs] == [
        ("passed", ".agentfs/tests/test_calc_geometry_scale.py")
    ]
    assert recorded(store)[-1] == ("passed", ".agentfs/tests/test_calc_geometry_scale.py")
