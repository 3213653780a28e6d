"""Test creation at each trust level over a real model and real pytest runs: where the
skeleton goes, that it runs alone and its log is kept, never overwriting, and a failing
skeleton that changes nothing in the repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.test_creation import Candidate, candidates, create_test, skeleton
from kgents_assets.store import Store
from tests.repo_helpers import Files

FILES: Files = {
    "calc/__init__.py": "",
    "calc/geometry.py": '''
        def area(w, h, *, unit="m"):
            """Area of a rectangle."""
            return w * h


        def perimeter(w, h):
            return 2 * (w + h)
        ''',
    "tests/test_geometry.py": """
        from calc.geometry import perimeter


        def test_perimeter():
            assert perimeter(1, 2) == 6
        """,
}


@pytest.fixture
def calc(store: Store, repo: Callable[[Files], Path]) -> tuple[Path, Candidate]:
    root = repo(FILES)
    refresh_repository(store, root, repo="calc")
    with store.connect() as conn:
        found = candidates(conn, "calc")
    assert [c.full_name for c in found] == ["calc.geometry.area"]  # perimeter has a test
    return root, found[0]


def runs(store: Store) -> list[tuple[int, str, str | None]]:
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT trust_level, outcome, test_path FROM hub_test_runs ORDER BY id"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_the_skeleton_pins_the_signature(calc: tuple[Path, Candidate]) -> None:
    name, text = skeleton(calc[1])
    assert name == "test_area" and "from calc.geometry import area" in text
    assert "assert list(inspect.signature(area).parameters) == ['w', 'h', 'unit']" in text


@pytest.mark.slow
def test_trust_levels_0_1_3(store: Store, calc: tuple[Path, Candidate]) -> None:
    root, candidate = calc
    assert create_test(store, "calc", root, candidate, 0).outcome == "logged"
    assert not (root / ".agentfs/tests").exists() and runs(store) == [(0, "logged", None)]

    one = create_test(store, "calc", root, candidate, 1)
    assert one.outcome == "passed", one.log
    assert one.pytest_id == ".agentfs/tests/test_calc_geometry_area.py::test_area"
    assert (root / ".agentfs/tests/test_calc_geometry_area.py").is_file()
    assert not (root / "tests/test_calc_geometry_area.py").exists()
    assert "1 passed" in one.log

    three = create_test(store, "calc", root, candidate, 3)
    assert three.outcome == "passed" and three.test_path == "tests/test_calc_geometry_area.py"
    written = (root / "tests/test_calc_geometry_area.py").read_text()
    assert create_test(store, "calc", root, candidate, 3).outcome == "exists"
    assert (root / "tests/test_calc_geometry_area.py").read_text() == written  # untouched
    assert runs(store) == [
        (0, "logged", None),
        (1, "passed", ".agentfs/tests/test_calc_geometry_area.py"),
        (3, "passed", "tests/test_calc_geometry_area.py"),
        (3, "exists", "tests/test_calc_geometry_area.py"),
    ]
    with store.connect() as conn:
        (log,) = conn.execute(
            "SELECT decisions->0->>'log' FROM hub_traces WHERE backend = 'test_creation' "
            "AND decisions->0->>'verdict' = 'passed' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert "1 passed" in log
    markdown = (root / ".agentfs/nodes/calc/geometry.py/area.md").read_text()
    assert "## Hub-generated test" in markdown
    assert "- test: `tests/test_calc_geometry_area.py::test_area`" in markdown
    assert "- last result: **passed**" in markdown


@pytest.mark.slow
def test_a_failing_skeleton_changes_nothing_in_the_repository(
    store: Store, calc: tuple[Path, Candidate]
) -> None:
    root, candidate = calc
    geometry = root / "calc/geometry.py"
    geometry.write_text(geometry.read_text().replace('*, unit="m"', "scale"))  # not refreshed
    before = sorted(p.relative_to(root).as_posix() for p in (root / "tests").rglob("*.py"))
    run = create_test(store, "calc", root, candidate, 3)
    assert run.outcome == "failed" and run.exit_code == 1
    assert "AssertionError" in run.log
    after = sorted(p.relative_to(root).as_posix() for p in (root / "tests").rglob("*.py"))
    assert after == before  # taken out of tests/ again...
    assert (root / ".agentfs/tests/test_calc_geometry_area.py").is_file()  # ...kept to read
    assert runs(store) == [(3, "failed", "tests/test_calc_geometry_area.py")]
    markdown = (root / ".agentfs/nodes/calc/geometry.py/area.md").read_text()
    assert "- last result: **failed**" in markdown


@pytest.mark.slow
def test_only_new_or_changed_functions_get_tests_a_few_per_run(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    from kgents_assets.hub.test_creation import create_tests_for_changes

    root = repo(FILES)
    refresh_repository(store, root, repo="calc")
    first = create_tests_for_changes(store, "calc", root, 1)
    assert first.baseline and first.runs == []  # area is untested, but not new: baseline
    assert not (root / ".agentfs/tests").exists()

    geometry = root / "calc/geometry.py"
    geometry.write_text(
        geometry.read_text()
        + "\n\ndef volume(w, h, d):\n    return w * h * d\n"
        + "\n\ndef _hidden(x):\n    return x\n"
    )
    (root / "calc/geometry.py").write_text(
        geometry.read_text().replace("return w * h\n", "return h * w\n", 1)  # area changed
    )
    refresh_repository(store, root, repo="calc")
    second = create_tests_for_changes(store, "calc", root, 1, limit=1)
    assert (second.baseline, second.new_or_changed, second.deferred) == (False, 2, 1)
    assert [(r.outcome, r.test_path) for r in second.runs] == [
        ("passed", ".agentfs/tests/test_calc_geometry_area.py")
    ]
    third = create_tests_for_changes(store, "calc", root, 1, limit=1)
    assert [(r.outcome, r.test_path) for r in third.runs] == [
        ("passed", ".agentfs/tests/test_calc_geometry_volume.py")
    ]
    assert third.deferred == 0
    fourth = create_tests_for_changes(store, "calc", root, 1)
    assert (fourth.new_or_changed, fourth.runs) == (0, [])  # each handled once
    assert not (root / "tests/test_calc_geometry__hidden.py").exists()  # private: never
