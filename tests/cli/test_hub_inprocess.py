"""``kg hub --once`` after a small edit, refreshed in its own process: the model, markdown
and catalog updated, each code asset recorded on the repository's partition in a real
Dagster instance without a run, and the next command a no-op again - unless a step failed.

Called in this process (real PostgreSQL, real instance, real files); the same path through
the ``kg`` executable is in test_hub_once_noop.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from kgents_assets.cli.hub_inprocess import TAGS, TRIGGER, run_in_process
from kgents_assets.cli.hub_skip import Decision, decide
from kgents_assets.hotdata.catalog import load_specs
from kgents_assets.hotdata.registry import HotDataRegistry
from kgents_assets.hub.clean_run import read_clean_run, wait_for_pending_record
from kgents_assets.hub.test_creation import create_tests_for_changes
from kgents_assets.hub.warm_pytest import WarmPytest
from kgents_assets.instance import get_instance
from kgents_assets.repos.registry import get_repository
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from sensors.run_spec import run_tags
from tests.cli.recorders import wait_for_recorders
from tests.cli.test_hub_skip import FILES, REPO, _clean_run
from tests.repo_helpers import Files

CODE_ASSETS = ("code_nodes", "node_state", "node_markdown", "catalog_embeddings")


@pytest.fixture
def instance(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagsterInstance]:
    # the instance the command opens is the one this test reads: the store's server
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    monkeypatch.delenv("KGENTS_EMBEDDER", raising=False)
    monkeypatch.delenv("KGENTS_TRUST_LEVEL", raising=False)
    monkeypatch.setenv("KGENTS_FIXTURES_DIR", str(tmp_path / "fixtures"))
    asyncio.run(HotDataRegistry(tmp_path / "fixtures", load_specs()).refresh_all_stale())
    with get_instance() as inst:
        yield inst
    wait_for_recorders()  # the refreshes' detached recorders, before the database goes


def _decide(store: Store, root: Path) -> Decision:
    with store.connect() as conn:
        return decide(conn, get_repository(store, REPO), root, [])


def _refresh(
    store: Store, root: Path, decision: Decision, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    code = run_in_process(
        root, store, get_repository(store, REPO), decision, True, time.perf_counter()
    )
    return code, json.loads(capsys.readouterr().out)


def _edited(store: Store, repo: Callable[[Files], Path], body: str) -> tuple[Path, Decision]:
    """A checkout after a clean run, with ``main`` edited to return ``body``: the decision."""
    root = repo(FILES)
    _clean_run(store, root)
    (root / "app.py").write_text(f"def main():\n    return {body}\n")
    return root, _decide(store, root)


def _landed(store: Store) -> None:
    """Once the refresh's record, written after the command, is in (as readers wait)."""
    with store.connect() as conn:
        wait_for_pending_record(conn, REPO)


def _partition_records(instance: DagsterInstance, asset: str) -> dict[str, Any]:
    """refresh_id -> the asset's event record on the repository's partition."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[REPO]), limit=20
    ).records
    out: dict[str, Any] = {}
    for record in records:
        mat = record.asset_materialization
        assert mat is not None
        out[str(mat.metadata["refresh_id"].value)] = record
    return out


def test_an_edit_is_refreshed_recorded_and_leaves_nothing_to_do(
    store: Store,
    repo: Callable[[Files], Path],
    instance: DagsterInstance,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    root, decision = _edited(store, repo, "2")
    assert "helper" in (root / ".agentfs/nodes/app.py/main.md").read_text()  # not yet rendered
    assert decision.small_change and decision.reason == "1 file(s) new or modified (app.py)"
    # run from inside another checkout of this project (the recorder process must use
    # this code, not the kgents_assets package of its working directory)
    shadow = tmp_path / "other_checkout"
    (shadow / "kgents_assets").mkdir(parents=True)
    (shadow / "kgents_assets" / "__init__.py").write_text("raise ImportError('not this one')\n")
    monkeypatch.chdir(shadow)

    code, summary = _refresh(store, root, decision, capsys)
    assert code == 0 and summary["success"] is True, summary
    refresh_id = summary["refresh_id"]
    assert summary["run_id"] is None and summary["in_process"] is True and refresh_id
    assert summary["run_reason"] == "1 file(s) new or modified (app.py)"
    assert summary["assets"]["code_nodes"]["nodes_removed"] == 1
    assert summary["assets"]["node_markdown"]["removed"] == 1
    assert summary["checks"] == {} and summary["failed_steps"] == {}
    assert re.fullmatch(
        rf"app: 1 file\(s\) new or modified \(app\.py\); refreshed without a Dagster run in "
        rf"[\d.]+ m?s \(refresh {refresh_id[:8]}…\): code_nodes [^;]*-1 node[^;]*; .*; "
        r"\d assets being recorded in Dagster \(code_nodes, node_state, node_markdown, [^)]*\); "
        r"asset checks not evaluated \(kg hub --once --run evaluates them\)",
        summary["summary"],
    ), summary["summary"]
    assert not (root / ".agentfs/nodes/app.py/helper.md").exists()
    assert "helper" not in (root / ".agentfs/nodes/app.py/main.md").read_text()  # no callee
    assert summary["recorded"] == "pending" and isinstance(summary["record_pid"], int)
    assert summary["record_log"].endswith("logs/hub-record.log")

    # once the record landed, the instance holds the refresh: no run, one materialization
    # per code asset
    _landed(store)
    assert instance.get_runs_count() == 0
    for asset in CODE_ASSETS:
        record = _partition_records(instance, asset)[refresh_id]
        assert record.run_id == "", asset  # reported, not a run's event
        metadata = record.asset_materialization.metadata
        assert metadata["trigger"].value == TRIGGER
        assert record.asset_materialization.partition == REPO

    # and the next command has nothing to do, since this refresh
    after = _decide(store, root)
    assert (after.run, after.last_run_id) == (False, refresh_id)


def test_a_failed_step_leaves_no_clean_record_so_the_next_command_runs_the_job(
    store: Store,
    repo: Callable[[Files], Path],
    instance: DagsterInstance,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root, decision = _edited(store, repo, "3")
    assert decision.small_change
    # an embedder that cannot load fails the catalog step, after the markdown was written
    monkeypatch.setenv("KGENTS_EMBEDDER", "no-such-backend")
    code, summary = _refresh(store, root, decision, capsys)
    monkeypatch.delenv("KGENTS_EMBEDDER")

    assert code == 1 and summary["success"] is False
    assert "catalog_embeddings" in summary["failed_steps"]
    assert "catalog_embeddings failed:" in summary["summary"]
    assert summary["summary"].endswith("the next kg hub --once runs the job")
    assert not (root / ".agentfs/nodes/app.py/helper.md").exists()  # the edit is in
    with store.connect() as conn:
        assert read_clean_run(conn, REPO) is None
    after = _decide(store, root)
    assert after.run and not after.small_change
    assert after.reason == (
        f"the last run ({summary['refresh_id'][:8]}) is not known to have ended well"
    )


def test_a_record_the_instance_cannot_take_is_said_and_leaves_no_clean_record(
    store: Store,
    repo: Callable[[Files], Path],
    instance: DagsterInstance,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    root, decision = _edited(store, repo, "4")
    # the recorder process meets an instance it cannot open
    broken = tmp_path / "broken_dagster_home"
    broken.mkdir()
    (broken / "dagster.yaml").write_text("storage:\n  no_such_storage: {}\n")
    monkeypatch.setenv("DAGSTER_HOME", str(broken))
    code, summary = _refresh(store, root, decision, capsys)

    # the child fails after taking the lock: either before the command handed it the
    # events (said by the command, exit 1) or after the command ended (said by the next)
    assert summary["failed_steps"] == {}, summary
    if code == 1:
        assert any("asset events not recorded in Dagster" in p for p in summary["problems"])
        assert summary["summary"].endswith("the next kg hub --once runs the job")
    else:
        assert summary["recorded"] == "pending" and summary["success"] is True
    assert not (root / ".agentfs/nodes/app.py/helper.md").exists()  # the model has the edit
    monkeypatch.delenv("DAGSTER_HOME")
    after = _decide(store, root)  # waits for the recorder
    assert after.run and not after.small_change
    assert after.reason.startswith(
        "the previous refresh's Dagster record failed: 0 asset event(s) recorded, then "
    ), after.reason
    assert "DagsterInvalidConfigError" in after.reason
    assert _partition_records(instance, "code_nodes") == {}
    with store.connect() as conn:
        assert read_clean_run(conn, REPO) is None


def test_the_generated_test_runs_in_the_pytest_process_started_before_the_stages(
    store: Store,
    repo: Callable[[Files], Path],
    instance: DagsterInstance,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = repo(FILES)
    _clean_run(store, root)
    assert create_tests_for_changes(store, REPO, root, 1).baseline  # as the job's asset did
    # a new public function with no test: the refresh writes and runs its skeleton
    (root / "app.py").write_text(FILES["app.py"] + "\n\ndef scale(x, k):\n    return x * k\n")
    decision = _decide(store, root)
    assert decision.small_change
    started: list[WarmPytest] = []
    handed: list[list[str]] = []
    real_init, real_run = WarmPytest.__init__, WarmPytest.run

    def init(self: WarmPytest, where: Path) -> None:
        real_init(self, where)
        started.append(self)

    def run(self: WarmPytest, args: list[str], timeout_s: float) -> Any:
        handed.append(args)
        return real_run(self, args, timeout_s)

    monkeypatch.setattr(WarmPytest, "__init__", init)
    monkeypatch.setattr(WarmPytest, "run", run)

    code, summary = _refresh(store, root, decision, capsys)
    assert code == 0 and summary["success"] is True, summary
    assert "test_skeletons 1 generated test run (1 passed)" in summary["summary"]
    # one runner, started for this checkout, ran exactly the generated test
    assert [w.root for w in started] == [root] and started[0].used
    assert [a[-1] for a in handed] == [".agentfs/tests/test_app_scale.py::test_scale"]
    with store.connect() as conn:
        row = conn.execute("SELECT outcome, exit_code, log FROM hub_test_runs").fetchone()
    assert row is not None and row[:2] == ("passed", 0) and "1 passed" in row[2]
    _landed(store)


def test_the_tags_spelled_out_are_the_run_specs() -> None:
    assert run_tags(TRIGGER) == TAGS
