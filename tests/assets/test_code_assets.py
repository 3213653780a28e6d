"""The code assets through Dagster itself: a real instance, real runs, real checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, instance_for_test

from kgents_assets.definitions import defs
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.repos.registry import add_repository
from kgents_assets.runner import materialize_code
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "core"

FILES: Files = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def a():\n    return b()\n\n\ndef b():\n    return 1\n",
    "pkg/blob.py": b"\x00\x01binary",
    "tests/test_core.py": "from pkg.core import a\n\n\ndef test_a():\n    a()\n",
}


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> DagsterInstance:
    Store(url=database_url).migrate()
    monkeypatch.setenv("KGENTS_DATABASE_URL", database_url)
    monkeypatch.setenv("KGENTS_FIXTURES_DIR", str(tmp_path / "fixtures"))
    with instance_for_test() as inst:
        yield inst


def _metadata(result, key: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise AssertionError(f"{key} was not materialized")


def _checks(result) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    return {
        e.asset_check_evaluation_data.asset_check_key.name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def test_the_code_location_loads_with_lineage() -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"code_nodes", "node_state", "node_markdown"} <= keys
    node_state = graph.get(
        next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "node_state")
    )
    assert {p.to_user_string() for p in node_state.parent_keys} == {"code_nodes"}
    assert node_state.group_name == "code" and node_state.freshness_policy is not None
    assert defs.resolve_job_def("code_refresh_job") is not None
    assert defs.resolve_job_def("materialize_all") is not None


def test_materializations_report_what_changed_and_checks_guard_invariants(
    instance: DagsterInstance, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    add_repository(Store(url=os.environ["KGENTS_DATABASE_URL"]), REPO, str(root))
    first = materialize_code(REPO, None, instance=instance, raise_on_error=False)
    assert first.success
    assert first.dagster_run.tags["dagster/partition"] == REPO
    code = _metadata(first, "code_nodes")
    assert code["files_scanned"] == 4 and code["files_changed"] == 4
    assert code["nodes_added"] == 6 and code["skipped_files"] == 1
    assert "pkg/blob.py" in str(code["problems"])
    assert _metadata(first, "node_state")["states_added"] == 6
    assert _metadata(first, "node_markdown")["written"] == 6
    # the preview is the start of a markdown file the run wrote, as written
    preview = str(_metadata(first, "node_markdown")["preview"])
    written = [p.read_text() for p in (root / NODES_DIR).rglob("*.md")]
    assert preview.startswith("# ") and any(text.startswith(preview) for text in written)
    checks = _checks(first)
    assert checks["states_match_nodes"] and checks["markdown_in_sync"]
    assert checks["every_source_file_parsed"] is False  # the binary .py is reported (WARN)

    (root / "pkg/core.py").write_text(
        "def a():\n    return b() + c()\n\n\ndef b():\n    return 1\n\n\ndef c():\n    return 2\n"
    )
    second = materialize_code(REPO, ["pkg/core.py"], instance=instance)
    code = _metadata(second, "code_nodes")
    assert code["mode"] == "change set" and code["files_scanned"] == 1
    assert (code["nodes_added"], code["nodes_changed"]) == (1, 2)  # c; a and the module
    assert (root / ".agentfs/nodes/pkg/core.py/c.md").exists()
    assert (
        instance.get_latest_materialization_event(
            next(
                k
                for k in defs.resolve_asset_graph().get_all_asset_keys()
                if k.to_user_string() == "node_markdown"
            )
        )
        is not None
    )


def test_a_configured_database_that_is_down_fails_the_run_clearly(
    instance: DagsterInstance, repo: Callable[[Files], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("KGENTS_DATABASE_URL", f"postgresql://kg:pw@127.0.0.1:{port}/kg")
    root = repo(FILES)
    instance.add_dynamic_partitions("repositories", [REPO])
    result = defs.resolve_job_def("code_refresh_job").execute_in_process(
        instance=instance, partition_key=REPO, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    message = str(failure.step_failure_data.error)
    assert "cannot reach the database" in message and "127.0.0.1" in message and "pw" not in message
    assert not (root / ".agentfs/pg").exists()  # no silent fallback to an embedded server
    assert not (Path(os.environ["KGENTS_HOME"]) / "pg").exists()


def _dagster(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Dagster's CLI from this project's environment (never another install on PATH)."""
    exe = Path(sys.executable).parent / "dagster"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_dagster_cli_lines_of_the_readme_work_as_typed(
    repo: Callable[[Files], Path], database_url: str, tmp_path: Path
) -> None:
    """The README's `dagster asset materialize` lines, as typed there, for a repository
    registered with `kg repo add`; without --partition Dagster refuses (its own words)."""
    root = repo(FILES)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "KGENTS_FIXTURES_DIR": str(tmp_path / "fixtures"),
        "DAGSTER_HOME": str(home),
    }
    kg = Path(sys.executable).parent / "kg"
    added = subprocess.run(
        [str(kg), "repo", "add", REPO, str(root)], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    every = _dagster(
        "asset", "materialize", "-m", "kgents_assets.definitions", "--select", "*",
        "--partition", REPO, env=env,
    )  # fmt: skip
    assert every.returncode == 0, every.stderr[-3000:]
    assert "RUN_SUCCESS" in every.stderr
    assert (root / ".agentfs/nodes/pkg/core.py/a.md").exists()

    (root / "pkg/core.py").write_text("def a():\n    return 2\n")
    code_only = _dagster(
        "asset", "materialize", "-m", "kgents_assets.definitions",
        "--select", "code_nodes*", "--partition", REPO, env=env,
    )  # fmt: skip
    assert code_only.returncode == 0, code_only.stderr[-3000:]
    assert not (root / ".agentfs/nodes/pkg/core.py/b.md").exists()  # b was deleted

    missing = _dagster(
        "asset", "materialize", "-m", "kgents_assets.definitions", "--select", "*", env=env
    )
    assert missing.returncode != 0 and "--partition" in missing.stderr
