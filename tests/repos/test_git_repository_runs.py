"""A repository given by git URL, end to end through Dagster: the sensor sees the branch
move, the run fetches and checks out that commit, and only the files the commit changed
are parsed again although the clone gave every file a new mtime. A failed fetch fails the
run with git's message and leaves the previous model intact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context, instance_for_test

from kgents_assets.definitions import defs
from kgents_assets.hub.integrity import repository_counts
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from resources.store import StoreResource
from sensors.git_remote import git_remote_sensor
from tests.repos.upstream import Upstream

pytestmark = pytest.mark.slow


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


def _code_metadata(result: Any) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == "code_nodes":
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise AssertionError("code_nodes was not materialized")


def _tick_and_run(instance: DagsterInstance, cursor: str | None) -> tuple[Any, str | None]:
    ctx = build_sensor_context(
        instance=instance, cursor=cursor, resources={"store": StoreResource()}
    )
    tick = git_remote_sensor(ctx)
    assert isinstance(tick, SensorResult)
    [request] = tick.run_requests or []
    run = defs.resolve_job_def("code_refresh_job").execute_in_process(
        run_config=request.run_config,
        instance=instance,
        partition_key=request.partition_key,
        tags=request.tags,
        raise_on_error=False,
    )
    return run, tick.cursor


def test_a_new_commit_is_a_run_at_that_sha_that_reparses_only_what_it_changed(
    store: Store, instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    monkeypatch.setenv("KGENTS_WORKSPACE", str(tmp_path / "workspace"))
    upstream = Upstream.create(tmp_path)
    files = {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n" for i in range(12)}
    first_sha = upstream.commit({"pkg/__init__.py": "", **files})
    add_repository(store, "remote", upstream.url)
    instance.add_dynamic_partitions("repositories", ["remote"])

    cold, cursor = _tick_and_run(instance, None)
    assert cold.success
    meta = _code_metadata(cold)
    assert meta["commit"] == first_sha and meta["files_changed"] == 13

    second_sha = upstream.commit({"pkg/m3.py": "def f3(x):\n    return x\n"}, delete=("pkg/m7.py",))
    warm, _ = _tick_and_run(instance, cursor)
    assert warm.success
    assert warm.dagster_run.tags["kgents/sha"] == second_sha
    meta = _code_metadata(warm)
    assert meta["commit"] == second_sha
    assert (meta["files_changed"], meta["files_deleted"]) == (1, 1)  # m3 re-parsed, m7 gone
    clone = tmp_path / "workspace" / "remote"
    assert (clone / ".agentfs/nodes/pkg/m3.py/f3.md").read_text().count("f3(x)") >= 1
    assert not (clone / ".agentfs/nodes/pkg/m7.py").exists()


def test_an_unreachable_remote_fails_the_run_and_keeps_the_model(
    store: Store, instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    monkeypatch.setenv("KGENTS_WORKSPACE", str(tmp_path / "workspace"))
    upstream = Upstream.create(tmp_path)
    upstream.commit({"a.py": "def a():\n    return 1\n"})
    add_repository(store, "remote", upstream.url)
    instance.add_dynamic_partitions("repositories", ["remote"])
    ok, _ = _tick_and_run(instance, None)
    assert ok.success
    with store.connect() as conn:
        before = repository_counts(conn, "remote")

    # the remote moves on, then disappears before the run fetches
    sha = upstream.commit({"b.py": "def b():\n    return 2\n"})
    moved = upstream.bare.rename(tmp_path / "gone.git")
    run = defs.resolve_job_def("code_refresh_job").execute_in_process(
        run_config={"ops": {"code_nodes": {"config": {"git_sha": sha}}}},
        instance=instance,
        partition_key="remote",
        raise_on_error=False,
    )
    assert moved.exists() and not run.success
    failure = next(e for e in run.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error)
    assert "repository 'remote'" in message and "git" in message.lower()
    with store.connect() as conn:
        assert repository_counts(conn, "remote") == before  # still there, still queryable
    assert (tmp_path / "workspace" / "remote" / "a.py").exists()


def _metadata_of(result: Any, asset: str) -> dict[str, Any]:
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        if mat.asset_key.to_user_string() == asset:
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


def test_a_cloned_repository_is_only_observed_by_test_creation_unless_trusted(
    store: Store, instance: DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code from a git URL is not run on the worker by default: a new untested function is
    logged, no skeleton is written or run; a trust level set by the operator still wins."""
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    monkeypatch.setenv("KGENTS_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("KGENTS_TRUST_LEVEL", raising=False)
    upstream = Upstream.create(tmp_path)
    upstream.commit({"pkg/__init__.py": "", "pkg/core.py": "def base():\n    return 1\n"})
    add_repository(store, "remote", upstream.url)
    instance.add_dynamic_partitions("repositories", ["remote"])
    cold, cursor = _tick_and_run(instance, None)
    assert cold.success and _metadata_of(cold, "test_skeletons")["baseline"] is True

    upstream.commit({"pkg/core.py": "def base():\n    return 1\n\n\ndef added(x):\n    return x\n"})
    warm, cursor = _tick_and_run(instance, cursor)
    meta = _metadata_of(warm, "test_skeletons")
    assert (meta["trust_level"], meta["logged_only"], meta["ran"]) == (0, 1, 0)
    clone = tmp_path / "workspace" / "remote"
    assert not list(clone.glob(".agentfs/tests/**/*.py"))

    monkeypatch.setenv("KGENTS_TRUST_LEVEL", "1")
    upstream.commit({"pkg/core.py": "def base():\n    return 1\n\n\ndef more(y):\n    return y\n"})
    trusted, _ = _tick_and_run(instance, cursor)
    meta = _metadata_of(trusted, "test_skeletons")
    assert (meta["trust_level"], meta["ran"]) == (1, 1)
    assert list(clone.glob(".agentfs/tests/**/*.py"))
