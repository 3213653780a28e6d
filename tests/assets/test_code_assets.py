"""The code assets through Dagster itself: a real instance, real runs, real checks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, instance_for_test

from kgents_assets.definitions import build_defs, defs
from kgents_assets.runner import materialize_code
from tests.repo_helpers import Files

FILES: Files = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def a():\n    return b()\n\n\ndef b():\n    return 1\n",
    "pkg/blob.py": b"\x00\x01binary",
    "tests/test_core.py": "from pkg.core import a\n\n\ndef test_a():\n    a()\n",
}


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> DagsterInstance:
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
    first = materialize_code(root, None, instance=instance, raise_on_error=False)
    assert first.success
    code = _metadata(first, "code_nodes")
    assert code["files_scanned"] == 4 and code["files_changed"] == 4
    assert code["nodes_added"] == 6 and code["skipped_files"] == 1
    assert "pkg/blob.py" in str(code["problems"])
    assert _metadata(first, "node_state")["states_added"] == 6
    assert _metadata(first, "node_markdown")["written"] == 6
    assert (
        "# a" in str(_metadata(first, "node_markdown")["preview"])
        or _metadata(first, "node_markdown")["preview"]
    )
    checks = _checks(first)
    assert checks["states_match_nodes"] and checks["markdown_in_sync"]
    assert checks["every_source_file_parsed"] is False  # the binary .py is reported (WARN)

    (root / "pkg/core.py").write_text(
        "def a():\n    return b() + c()\n\n\ndef b():\n    return 1\n\n\ndef c():\n    return 2\n"
    )
    second = materialize_code(root, ["pkg/core.py"], instance=instance)
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
    result = (
        build_defs(str(root))
        .resolve_job_def("code_refresh_job")
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    message = str(failure.step_failure_data.error)
    assert "cannot reach the database" in message and "127.0.0.1" in message and "pw" not in message
    assert not (root / ".agentfs/pg").exists()  # no silent fallback to an embedded server


def test_dagster_cli_materializes_every_asset(
    repo: Callable[[Files], Path], database_url: str, tmp_path: Path
) -> None:
    """The documented `dagster asset materialize ... --select '*'` works as typed."""
    root = repo(FILES)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "KGENTS_REPO": str(root),
        "KGENTS_DATABASE_URL": database_url,
        "KGENTS_FIXTURES_DIR": str(tmp_path / "fixtures"),
        "DAGSTER_HOME": str(home),
    }
    out = subprocess.run(
        [
            shutil.which("dagster") or "dagster",
            "asset",
            "materialize",
            "-m",
            "kgents_assets.definitions",
            "--select",
            "*",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RUN_SUCCESS" in out.stderr
    assert (root / ".agentfs/nodes/pkg/core.py/a.md").exists()
