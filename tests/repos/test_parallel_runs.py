"""Two repositories refreshed by two processes at the same time, through the real code
location against one store and one Dagster instance: both runs succeed, neither waits for
the other's repository lock, and each model is exactly its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.repo_helpers import snapshot, write_files

pytestmark = pytest.mark.slow

RUN = """
import sys
from kgents_assets.instance import get_instance
from kgents_assets.runner import materialize_code
with get_instance() as instance:
    result = materialize_code(sys.argv[1], None, instance=instance, raise_on_error=False)
print("ok" if result.success else "failed", result.run_id)
sys.exit(0 if result.success else 1)
"""


def test_two_repositories_in_two_processes_at_once(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    roots = {}
    for name in ("north", "south"):
        root = tmp_path / name
        files = {
            f"{name}/m{i}.py": f"def {name}_{i}():\n    return {name}_{(i + 1) % 30}()\n"
            for i in range(30)
        }
        write_files(root, {f"{name}/__init__.py": "", **files})
        add_repository(store, name, str(root))
        roots[name] = root
    env = {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", RUN, name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in roots
    }
    outputs = {name: p.communicate(timeout=600) for name, p in procs.items()}
    for name, p in procs.items():
        assert p.returncode == 0, outputs[name][1][-3000:]
    for name, root in roots.items():
        model = snapshot(store, root, name)
        assert len(model["nodes"]) == 61 and len(model["edges"]) == 30  # 31 modules + 30 functions
        assert all(n.startswith(f"{name}:") for n in model["nodes"])
        assert model["pending"] == 0
        assert len(list((root / ".agentfs/nodes").rglob("*.md"))) == 61
