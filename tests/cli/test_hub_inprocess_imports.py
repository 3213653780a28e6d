"""``kg hub --once`` after an edit imports numpy (the catalog's embedder) on a thread of its
own while the stages run, not on the main thread before them; and test creation leaves
its record of the files it looked at (``hub.test_scope``), so the next edit examines only
the files that moved.

The real ``kg`` executable runs with a ``sitecustomize`` of this test's making: an import
hook that notes which thread first asks for numpy, written out by an exit handler.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kgents_assets.hub.test_scope import state_key
from kgents_assets.store import Store
from tests.cli.recorders import hub_environment
from tests.executables import project_executable
from tests.repo_helpers import Files

KG = project_executable("kg")
SOURCE = "def main():\n    return helper()\n\n\ndef helper():\n    return 1\n"
SITECUSTOMIZE = """
import atexit, os, pathlib, sys, threading

_asked = []


class _Note:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" and not _asked:
            _asked.append(threading.current_thread().name)
        return None


sys.meta_path.insert(0, _Note())
atexit.register(
    lambda: pathlib.Path(os.environ["KG_TEST_NUMPY"]).write_text(",".join(_asked) or "-")
)
"""


@pytest.fixture
def env(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    yield from hub_environment(store.url, tmp_path, monkeypatch)


def _kg(root: Path, env: dict[str, str], noted: Path) -> tuple[dict[str, Any], str]:
    """``kg hub --once ROOT --json``: its summary, and the thread that first imported numpy
    ("-": none did)."""
    site = noted.parent / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    noted.unlink(missing_ok=True)
    path = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, KG, "hub", "--once", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "PYTHONPATH": path, "KG_TEST_NUMPY": str(noted)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), noted.read_text()


@pytest.mark.slow
@pytest.mark.timeout(900)  # a first real run, then two edits
def test_an_edit_imports_numpy_aside_and_records_what_test_creation_looked_at(
    store: Store, repo: Callable[[Files], Path], env: dict[str, str], tmp_path: Path
) -> None:
    root = repo({"app.py": SOURCE, "lib.py": "def other(x):\n    return x\n"})
    noted = tmp_path / "numpy_thread"
    first, _ = _kg(root, env, noted)
    assert first["run_id"]  # a Dagster run, which baselines test creation

    (root / "app.py").write_text(SOURCE + "\n\ndef added(a, b):\n    return a + b\n")
    edited, thread = _kg(root, env, noted)
    assert edited["in_process"] is True and edited["success"] is True
    assert "catalog_embeddings" in edited["assets"]  # the step that embeds ran
    assert thread == "import numpy", f"numpy was first imported by {thread!r}"

    with store.connect() as conn:
        row = conn.execute("SELECT value FROM kv WHERE key = %s", (state_key(root.name),))
        value = row.fetchone()
    assert value is not None
    files = value[0]["files"]
    # app.py: its new function handled (a skeleton at the default trust), nothing left
    assert set(files) == {"app.py", "lib.py"} and files["app.py"][2] is False
    assert len(files["app.py"][3]) == 3  # main, helper, added
