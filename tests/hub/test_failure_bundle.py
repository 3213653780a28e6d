"""Failure context bundles from a real pytest run: the plugin journals a green run and
then a failure, and the bundle names the test, maps every traceback frame to its node,
and shows what changed in the failing node since the green run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kgents_assets.hub.failure_bundle import (
    bundle_for,
    journaled_failures,
    parse_frames,
    repo_path,
)
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from tests.repo_helpers import Files

FILES: Files = {
    "pkg/__init__.py": "",
    "pkg/mod.py": """
        def f(x):
            return g(x) + 1


        def g(x):
            return x * 2
        """,
    "tests/test_mod.py": """
        from pkg.mod import f, g


        def test_f():
            assert f(0) == 1


        def test_g():
            assert g(2) == 4
        """,
}


def run_pytest(root: Path, store: Store) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, DATABASE_URL_ENV: store.url, "KGENTS_EVENTS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:kmock",
         "-p", "no:randomly", "--rootdir", str(root), "tests"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_parse_frames_of_each_traceback_style() -> None:
    long_style = (
        "    def test_f():\n>       assert f(0) == 1\n\ntests/test_mod.py:5: \n_ _ _ _\n"
        "pkg/mod.py:2: in f\n    return g(x) + 1\n\n>   return 1 / x\nE   ZeroDivisionError\n\n"
        "pkg/mod.py:6: ZeroDivisionError"
    )
    assert parse_frames(long_style) == [("tests/test_mod.py", 5), ("pkg/mod.py", 2),
                                        ("pkg/mod.py", 6)]  # fmt: skip
    native = 'Traceback:\n  File "/abs/repo/pkg/mod.py", line 6, in g\n    return 1 / x\n'
    assert parse_frames(native) == [("/abs/repo/pkg/mod.py", 6)]
    known = {"pkg/mod.py", "tests/test_mod.py"}
    assert repo_path("/abs/repo/pkg/mod.py", Path("/abs/repo"), known) == "pkg/mod.py"
    assert repo_path("/usr/lib/python3.11/json/decoder.py", Path("/abs/repo"), known) is None
    assert repo_path("mod.py", None, known) == "pkg/mod.py"  # rootdir below the repository


@pytest.mark.slow
def test_bundle_of_a_real_failure(store: Store, repo: Callable[[Files], Path]) -> None:
    root = repo(FILES)
    refresh_repository(store, root, repo="pkg")
    green = run_pytest(root, store)
    assert green.returncode == 0, green.stdout + green.stderr

    mod = root / "pkg" / "mod.py"
    mod.write_text(mod.read_text().replace("return x * 2", "return 1 / x"))
    refresh_repository(store, root, repo="pkg")
    red = run_pytest(root, store)
    assert red.returncode == 1, red.stdout

    with store.connect() as conn:
        (failure,) = journaled_failures(conn, repo="pkg", test="tests/test_mod.py::test_f")
        bundle = bundle_for(conn, failure, "pkg", root, store=store)
    assert bundle.test_nodeid == "tests/test_mod.py::test_f"
    assert bundle.test_full_name == "test_mod.test_f" and bundle.test_node_id
    assert "ZeroDivisionError" in bundle.message
    assert [(f.file_path, f.line, f.full_name) for f in bundle.frames] == [
        ("tests/test_mod.py", 5, "test_mod.test_f"),
        ("pkg/mod.py", 2, "pkg.mod.f"),
        ("pkg/mod.py", 6, "pkg.mod.g"),
    ]
    assert bundle.failing_node == "pkg.mod.g"
    f_frame, g_frame = bundle.frames[1], bundle.frames[2]
    assert [(c.full_name, c.confidence) for c in f_frame.callees] == [("pkg.mod.g", 1.0)]
    assert "test_mod.test_f" in [c.full_name for c in f_frame.callers]
    assert g_frame.signature == "def g(x)" and "tests/test_mod.py::test_g" in g_frame.tests
    # g changed after the green run; f did not
    assert bundle.last_green_at is not None
    assert [c.signals for c in g_frame.changes_since_green] == [["source_changed"]]
    assert f_frame.changes_since_green == []

    data = json.loads((root / ".agentfs/failures/tests/test_mod.py/test_f.json").read_text())
    assert data["failing_node"] == "pkg.mod.g" and bundle.artifact == (
        ".agentfs/failures/tests/test_mod.py/test_f.json"
    )
    markdown = (root / ".agentfs/failures/tests/test_mod.py/test_f.md").read_text()
    assert "### `pkg/mod.py:6` in `pkg.mod.g`" in markdown
    assert "- changed since the last green run: " in markdown and "source_changed" in markdown
