"""``kg hub --once`` as a user runs it: a real process, a real instance, real PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.executables import project_executable
from tests.repo_helpers import Files

KG = project_executable("kg")


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "KGENTS_FIXTURES_DIR": str(tmp_path / "fixtures"),
    }


def test_once_materializes_everything_and_prints_a_json_summary(
    repo: Callable[[Files], Path], database_url: str, tmp_path: Path
) -> None:
    root = repo({"app.py": "def main():\n    return helper()\n\n\ndef helper():\n    return 1\n"})
    (tmp_path / "dagster_home").mkdir()
    out = subprocess.run(
        [KG, "hub", "--once", str(root), "--json"],
        capture_output=True,
        text=True,
        env=_env(tmp_path, database_url),
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["success"] is True
    # the sentence a person reads first, in the same words as the gateway's streams
    assert summary["summary"].startswith(f"run {summary['run_id'][:8]}")
    assert "succeeded" in summary["summary"] and "code_nodes +3 nodes" in summary["summary"]
    assert summary["assets"]["code_nodes"]["nodes_added"] == 3
    assert summary["assets"]["node_markdown"]["written"] == 3
    assert summary["checks"]["markdown_in_sync"] is True
    assert any(k.startswith("hotdata/") for k in summary["assets"])  # every asset, not just code
    assert (root / ".agentfs/nodes/app.py/helper.md").read_text().startswith("# helper")


def test_once_with_the_database_down_exits_non_zero_with_a_clear_message(
    repo: Callable[[Files], Path], tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = repo({"app.py": "x = 1\n"})
    (tmp_path / "dagster_home").mkdir()
    out = subprocess.run(
        [KG, "hub", "--once", str(root)],
        capture_output=True,
        text=True,
        timeout=240,
        env=_env(tmp_path, f"postgresql://kg:secret@127.0.0.1:{port}/kg"),
    )
    assert out.returncode != 0
    assert "cannot reach the database" in out.stderr and "secret" not in out.stderr
    assert not (root / ".agentfs/pg").exists()


def test_a_missing_repository_is_a_usage_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [KG, "hub", "--once", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert out.returncode == 2 and "not a directory" in out.stderr
