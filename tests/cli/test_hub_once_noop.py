"""``kg hub --once`` a second time, nothing changed: fresh fixtures and idle code steps are
skipped, and the summary says so."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.executables import project_executable
from tests.repo_helpers import Files

KG = project_executable("kg")


def _once(root: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [KG, "hub", "--once", str(root), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out


@pytest.mark.slow
def test_a_second_run_skips_fresh_fixtures_and_idle_code_steps_and_says_so(
    repo: Callable[[Files], Path], database_url: str, tmp_path: Path
) -> None:
    root = repo({"app.py": "def main():\n    return helper()\n\n\ndef helper():\n    return 1\n"})
    (tmp_path / "dagster_home").mkdir()
    env = {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "KGENTS_FIXTURES_DIR": str(tmp_path / "fixtures"),
        "COLUMNS": "200",
    }
    first = json.loads(_once(root, env, "--json").stdout)
    assert first["fresh_fixtures"] == [] and first["skipped_steps"] == []
    fixtures = sorted(k for k in first["assets"] if k.startswith("hotdata/"))
    assert fixtures
    markdown = (root / ".agentfs/nodes/app.py/helper.md").read_text()

    second = json.loads(_once(root, env, "--json").stdout)
    assert second["success"] is True
    assert sorted("hotdata/" + name for name in second["fresh_fixtures"]) == fixtures
    assert not any(k.startswith("hotdata/") for k in second["assets"])
    assert {"node_state", "node_markdown", "catalog_embeddings"} <= set(second["skipped_steps"])
    assert second["assets"]["code_nodes"]["outcome"] == "nothing changed, downstream skipped"
    assert second["checks"] == {}  # checks of skipped assets do not run
    assert (root / ".agentfs/nodes/app.py/helper.md").read_text() == markdown

    # the table a person reads says the same
    table = _once(root, env).stdout
    assert "fresh, skipped" in table and "nothing to do, skipped" in table

    # an edit is still refreshed in full by the code steps
    (root / "app.py").write_text("def main():\n    return 2\n")
    edited = json.loads(_once(root, env, "--json").stdout)
    assert edited["assets"]["code_nodes"]["nodes_removed"] == 1
    assert not (root / ".agentfs/nodes/app.py/helper.md").exists()
    assert edited["checks"]["markdown_in_sync"] is True
