"""The Dagster sensors evaluated with build_sensor_context against real files, a real git
repository, a real store and a real Dagster instance; their run requests are executed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
    instance_for_test,
)

from kgents_assets.definitions import defs as code_location
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from resources.store import StoreResource
from sensors import dagster_sensors as ds
from sensors.events import TestFailed
from sensors.journal import EventJournal
from sensors.run_spec import TAG_MESSAGE, TAG_SHA


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


REPO = "proj"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, store: Store, git_repo: Path) -> dict[str, Any]:
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    add_repository(store, REPO, str(git_repo))
    return {"store": StoreResource()}


def _evaluate(
    sensor: Any, instance: DagsterInstance, resources: dict[str, Any], cursor: str | None
) -> SensorResult | SkipReason:
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return sensor(ctx)  # type: ignore[no-any-return]


def _skipped(result: SensorResult | SkipReason, why: str = "") -> bool:
    """No run requested, and the reason shown in the UI says ``why``."""
    if isinstance(result, SkipReason):
        return why in (result.skip_message or "")
    message = result.skip_reason.skip_message if result.skip_reason else ""
    return not result.run_requests and why in (message or "")


def _execute(defs: Definitions, job: str, request: RunRequest, instance: DagsterInstance) -> None:
    if request.partition_key:
        instance.add_dynamic_partitions("repositories", [request.partition_key])
    result = defs.resolve_job_def(job).execute_in_process(
        run_config=request.run_config,
        instance=instance,
        tags=request.tags,
        partition_key=request.partition_key,
    )
    assert result.success


def test_all_sensors_running_by_default_and_resolve_against_the_code_job() -> None:
    defs = code_location
    for name in ("code_file_change_sensor", "code_git_commit_sensor", "test_failure_sensor"):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("code_file_change_sensor").job_name == "code_refresh_job"


@pytest.mark.slow
def test_file_change_sensor_passes_the_change_set_and_resumes_from_cursor(
    git_repo: Path, env: dict[str, Any], instance: DagsterInstance
) -> None:
    (git_repo / "pkg").mkdir()
    (git_repo / "pkg" / "a.py").write_text("def a():\n    return 1\n")
    (git_repo / "pkg" / "b.py").write_text("def b():\n    return 2\n")
    (git_repo / "notes.txt").write_text("not code\n")
    first = _evaluate(ds.code_file_change_sensor, instance, env, None)
    assert isinstance(first, SensorResult)
    (req,) = first.run_requests or []
    config = req.run_config["ops"]["code_nodes"]["config"]
    assert config["changed_paths"] == ["pkg/a.py", "pkg/b.py"]
    assert config["full_scan"] is False and config["git_sha"] is None
    assert req.partition_key == REPO
    assert req.run_key and req.run_key.startswith(f"files:{REPO}:")
    # Same change still pending (run not finished): not requested twice.
    again = _evaluate(ds.code_file_change_sensor, instance, env, first.cursor)
    assert isinstance(again, SkipReason) and "already requested" in (again.skip_message or "")

    defs = code_location
    _execute(defs, "code_refresh_job", req, instance)
    assert (git_repo / ".agentfs" / "nodes" / "pkg" / "a.py").is_dir()
    quiet = _evaluate(ds.code_file_change_sensor, instance, env, first.cursor)
    assert isinstance(quiet, SkipReason) and "no changes" in (quiet.skip_message or "")

    # Edit one file, delete another: exactly those two, a new run key.
    (git_repo / "pkg" / "a.py").write_text("def a(x):\n    return x\n")
    (git_repo / "pkg" / "b.py").unlink()
    second = _evaluate(ds.code_file_change_sensor, instance, env, first.cursor)
    assert isinstance(second, SensorResult)
    (req2,) = second.run_requests or []
    assert req2.run_config["ops"]["code_nodes"]["config"]["changed_paths"] == [
        "pkg/a.py",
        "pkg/b.py",
    ]
    assert req2.run_key != req.run_key
    _execute(defs, "code_refresh_job", req2, instance)
    assert not (git_repo / ".agentfs" / "nodes" / "pkg" / "b.py").exists()
    a_md = next((git_repo / ".agentfs" / "nodes" / "pkg" / "a.py").glob("a*.md")).read_text()
    assert "x" in a_md


def test_git_commit_sensor_baseline_then_tagged_high_priority_run(
    git_repo: Path, env: dict[str, Any], instance: DagsterInstance, gh: Any, store: Store
) -> None:
    gh.commit_file(git_repo, "a.py", "x = 1\n", "base")
    base = _evaluate(ds.code_git_commit_sensor, instance, env, None)
    assert isinstance(base, SensorResult) and not base.run_requests
    assert "baseline" in (base.skip_reason.skip_message if base.skip_reason else "")
    idle = _evaluate(ds.code_git_commit_sensor, instance, env, base.cursor)
    assert _skipped(idle, "HEAD unchanged")

    sha = gh.commit_file(git_repo, "b.py", "y = 2\n", "add b\n\nwhy")
    result = _evaluate(ds.code_git_commit_sensor, instance, env, base.cursor)
    assert isinstance(result, SensorResult)
    (req,) = result.run_requests or []
    assert req.partition_key == REPO
    assert req.run_key and req.run_key.startswith(f"{REPO}:commit:{sha}@")
    assert req.tags[TAG_SHA] == sha and req.tags[TAG_MESSAGE] == "add b"
    assert req.tags["dagster/priority"] == "5"
    assert req.run_config["ops"]["code_nodes"]["config"]["changed_paths"] == ["b.py"]
    assert json.loads(result.cursor or "{}")[REPO]["sha"] == sha
    assert EventJournal(store).count("git_commit") == 1
    # Resuming from the new cursor: nothing new.
    assert _skipped(_evaluate(ds.code_git_commit_sensor, instance, env, result.cursor))


def test_git_commit_sensor_on_a_plain_directory_says_why(
    tmp_path: Path, instance: DagsterInstance, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    plain = tmp_path / "plain"
    plain.mkdir()
    add_repository(store, "plain", str(plain))
    result = _evaluate(ds.code_git_commit_sensor, instance, {"store": StoreResource()}, None)
    assert isinstance(result, SensorResult) and not result.run_requests
    skip = result.skip_reason.skip_message if result.skip_reason else ""
    assert "plain:" in skip and "not a git repository" in skip


@pytest.mark.slow
def test_test_failure_sensor_records_context_for_the_failing_tests_nodes(
    git_repo: Path, env: dict[str, Any], instance: DagsterInstance, store: Store
) -> None:
    (git_repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (git_repo / "tests").mkdir()
    (git_repo / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\nclass TestAdd:\n    def test_add(self):\n"
        "        assert add(1, 2) == 3\n"
    )
    defs = code_location
    from kgents_assets.runner import materialize_code

    assert materialize_code(REPO, None, instance=instance).success
    journal = EventJournal(store)
    before = journal.append(
        TestFailed(nodeid="tests/test_calc.py::TestOther::test_x", session_id="s0"), repo=REPO
    )
    idle = _evaluate(ds.test_failure_sensor, instance, env, str(before))
    assert isinstance(idle, SkipReason)
    seq = journal.append(
        TestFailed(
            nodeid="tests/test_calc.py::TestAdd::test_add",
            session_id="s1",
            message="assert -1 == 3",
        ),
        repo=REPO,
    )
    result = _evaluate(ds.test_failure_sensor, instance, env, str(before))
    assert isinstance(result, SensorResult)
    (req,) = result.run_requests or []
    assert req.tags["dagster/priority"] == "10"
    assert result.cursor == str(seq)
    _execute(defs, "failure_context_job", req, instance)
    with store.connect() as conn:
        row = conn.execute(
            "SELECT test_nodeid, test_node_id, nodes, message FROM sensor_failure_contexts "
            "WHERE event_seq = %s",
            (seq,),
        ).fetchone()
    assert row is not None
    nodeid, test_node_id, nodes, message = row
    assert nodeid == "tests/test_calc.py::TestAdd::test_add" and test_node_id
    assert message == "assert -1 == 3"
    assert [n["full_name"] for n in nodes] == ["calc.add"]
    # cursor resumes after the last handled failure
    assert isinstance(_evaluate(ds.test_failure_sensor, instance, env, result.cursor), SkipReason)
    assert os.environ[DATABASE_URL_ENV] == store.url


def test_git_sensor_checkout_back_and_forth_requests_each_move(
    git_repo: Path, env: dict[str, Any], instance: DagsterInstance, gh: Any
) -> None:
    gh.commit_file(git_repo, "a.py", "x = 1\n", "base")
    gh.run(git_repo, "checkout", "-q", "-b", "feature")
    gh.commit_file(git_repo, "b.py", "y = 1\n", "feature")
    gh.run(git_repo, "checkout", "-q", "main")
    cursor = _evaluate(ds.code_git_commit_sensor, instance, env, None)
    assert isinstance(cursor, SensorResult)
    keys = []
    state = cursor.cursor
    for branch in ("feature", "main", "feature"):
        gh.run(git_repo, "checkout", "-q", branch)
        result = _evaluate(ds.code_git_commit_sensor, instance, env, state)
        assert isinstance(result, SensorResult)
        (req,) = result.run_requests or []
        assert req.tags["kgents/event"] == "git_branch_switch"
        assert req.run_config["ops"]["code_nodes"]["config"]["changed_paths"] == ["b.py"]
        keys.append(req.run_key)
        state = result.cursor
    assert len(set(keys)) == 3  # returning to a commit seen before still refreshes


@pytest.mark.slow
def test_file_change_sensor_requests_one_run_per_changed_repository(
    tmp_path: Path, store: Store, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two local repositories: each change is a run of its own partition, and refreshing
    one leaves the other's pending change requested, never absorbed."""
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    roots = {}
    for name in ("alpha", "beta"):
        root = tmp_path / name
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "m.py").write_text(f"def {name}():\n    return 1\n")
        add_repository(store, name, str(root))
        roots[name] = root
    resources = {"store": StoreResource()}
    first = _evaluate(ds.code_file_change_sensor, instance, resources, None)
    assert isinstance(first, SensorResult)
    by_repo = {r.partition_key: r for r in first.run_requests or []}
    assert set(by_repo) == {"alpha", "beta"}
    _execute(code_location, "code_refresh_job", by_repo["alpha"], instance)
    (roots["alpha"] / "pkg" / "m.py").write_text("def alpha(x):\n    return x\n")
    second = _evaluate(ds.code_file_change_sensor, instance, resources, first.cursor)
    assert isinstance(second, SensorResult)
    # alpha changed again: requested; beta's change is still pending (same fingerprint)
    assert [r.partition_key for r in second.run_requests or []] == ["alpha"]
    assert json.loads(second.cursor or "{}")["beta"] == json.loads(first.cursor or "{}")["beta"]


def test_a_failed_ci_run_without_tests_refreshes_its_repository_first(
    env: dict[str, Any], instance: DagsterInstance, store: Store
) -> None:
    from sensors.events import CIJobEvent, CIWorkflowEvent

    journal = EventJournal(store)
    passed = journal.append(
        CIWorkflowEvent(run_id="1", workflow="ci", status="completed", conclusion="success"),
        repo=REPO,
    )
    quiet = _evaluate(ds.test_failure_sensor, instance, env, None)
    assert _skipped(quiet, "none a failure")
    assert isinstance(quiet, SensorResult) and quiet.cursor == str(passed)  # read, not kept
    failed = journal.append(
        CIJobEvent(
            run_id="2", workflow="ci", job_id="7", job="tests", status="completed",
            conclusion="failure",
        ),
        repo=REPO,
    )  # fmt: skip
    result = _evaluate(ds.test_failure_sensor, instance, env, quiet.cursor)
    assert isinstance(result, SensorResult) and result.cursor == str(failed)
    (req,) = result.run_requests or []
    assert req.job_name == "code_refresh_job" and req.partition_key == REPO
    assert req.tags["dagster/priority"] == "10"
