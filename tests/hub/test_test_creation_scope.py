"""Test creation examines only the files that moved since it last looked
(``hub.test_scope``), with the same outcome as looking at the whole repository: the same
functions new or changed, the same candidates and deferrals, the same memory of what was
seen. Two copies of one repository go through the same random edits (functions added,
edited, removed and put back, files added and removed, a module renamed by its package
marker); one keeps its record, the other has it dropped before each run, which makes it
examine every file as before."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from kgents_assets.hub import test_scope
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.test_creation import CreationReport, create_tests_for_changes
from kgents_assets.store import Store

MODULES = ["pkg/alpha.py", "pkg/beta.py", "pkg/sub/gamma.py", "tools.py", "pkg/tests/test_x.py"]


def _function(name: str, body: int) -> str:
    return f"def {name}(x, y={body}):\n    return x + y + {body}\n"


def _write(root: Path, layout: dict[str, dict[str, int]]) -> None:
    for rel in {*MODULES, "pkg/__init__.py", "pkg/sub/__init__.py", "pkg/extra.py"}:
        path = root / rel
        if rel in layout:
            path.parent.mkdir(parents=True, exist_ok=True)
            text = "\n\n".join(_function(n, b) for n, b in sorted(layout[rel].items()))
            path.write_text(text)
        elif path.exists():
            path.unlink()


def _seen(store: Store, repo: str) -> set[tuple[str, str]]:
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT node_id, source_hash FROM hub_test_seen WHERE repo = %s", (repo,)
        ).fetchall()
    return {(node_id.split(":", 1)[1], digest) for node_id, digest in rows}


def _outcome(report: CreationReport) -> tuple[object, ...]:
    ids = sorted(r.node_id.split(":", 1)[1] for r in report.runs)
    return (report.baseline, report.new_or_changed, report.deferred, ids)


def _edit(
    rng: random.Random, layout: dict[str, dict[str, int]], removed: list[tuple[str, str, int]]
) -> None:
    """One random change of the layout (file -> function name -> body)."""
    choice = rng.choice(["add", "add", "edit", "remove", "restore", "file", "marker"])
    files = [f for f in layout if f.endswith(".py") and not f.endswith("__init__.py")]
    target = rng.choice(files)
    functions = layout[target]
    if choice == "add":
        for _ in range(rng.randint(1, 4)):  # several at once: some are deferred
            name = rng.choice(["f", "g", "_h", "run", "make"]) + str(rng.randint(0, 30))
            functions[name] = rng.randint(0, 3)
    elif choice == "edit" and functions:
        functions[rng.choice(sorted(functions))] += 1
    elif choice == "remove" and functions:
        name = rng.choice(sorted(functions))
        removed.append((target, name, functions.pop(name)))
    elif choice == "restore" and removed:
        # the same function back, same source: new again, as the whole scan finds it
        path, name, body = removed.pop(rng.randrange(len(removed)))
        layout.setdefault(path, {})[name] = body
    elif choice == "file":
        if "pkg/extra.py" in layout:
            del layout["pkg/extra.py"]
        else:
            layout["pkg/extra.py"] = {"extra_fn": rng.randint(0, 3)}
    elif choice == "marker":  # pkg/sub gains or loses its package marker: modules rename
        if "pkg/sub/__init__.py" in layout:
            del layout["pkg/sub/__init__.py"]
        else:
            layout["pkg/sub/__init__.py"] = {}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 11])
def test_scoped_test_creation_equals_the_whole_repository(
    store: Store, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    layout: dict[str, dict[str, int]] = {
        "pkg/__init__.py": {},
        "pkg/sub/__init__.py": {},
        "pkg/alpha.py": {"area": 1, "_private": 0, "volume": 2},
        "pkg/beta.py": {"load": 0, "save": 1},
        "pkg/sub/gamma.py": {"deep": 0},
        "tools.py": {"helper": 3},
        "pkg/tests/test_x.py": {"test_area": 0},
    }
    roots = {"scoped": tmp_path / "scoped", "whole": tmp_path / "whole"}
    removed: list[tuple[str, str, int]] = []
    examined: list[int] = []
    for round_ in range(14):
        if round_:
            _edit(rng, layout, removed)
        for name, root in roots.items():
            root.mkdir(exist_ok=True)
            _write(root, layout)
            refresh_repository(store, root, repo=name)
        with store.transaction() as conn:  # the whole-repository copy forgets its record
            conn.execute("DELETE FROM kv WHERE key = %s", (test_scope.state_key("whole"),))
            scope = test_scope.load_scope(conn, "scoped")
            total = conn.execute("SELECT count(*) FROM hub_files WHERE repo = 'scoped'").fetchone()
        if round_:
            assert scope.files is not None, "the record was not usable"
            examined.append(len(scope.files))
            assert total is not None and len(scope.files) < total[0]
        reports = {
            name: create_tests_for_changes(store, name, root, 0, limit=2)
            for name, root in roots.items()
        }
        assert _outcome(reports["scoped"]) == _outcome(reports["whole"]), (round_, layout)
        assert _seen(store, "scoped") == _seen(store, "whole"), (round_, layout)
    # the edits made functions new, changed and deferred, and the record narrowed the look
    assert max(examined) >= 1
    for root in roots.values():
        shutil.rmtree(root)
