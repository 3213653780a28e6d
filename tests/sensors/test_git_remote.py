"""git_remote_sensor evaluated with build_sensor_context against a real store (registered
repositories), a real Dagster instance and real local bare repositories."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    SensorResult,
    SkipReason,
    build_sensor_context,
    instance_for_test,
    validate_run_config,
)

from kgents_assets.assets.partitions import REPOSITORIES_PARTITION, ensure_partition
from kgents_assets.repos.registry import add_repository, record_refresh
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from resources.store import StoreResource
from sensors.git_remote import git_remote_sensor
from tests.repos.upstream import Upstream


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def resources(monkeypatch: pytest.MonkeyPatch, store: Store) -> dict[str, Any]:
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    return {"store": StoreResource()}


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    up = Upstream.create(tmp_path / "remotes")
    up.commit({"pkg/a.py": "def a():\n    return 1\n"})
    return up


class _Warnings(logging.Handler):
    """What a tick logged as a warning (what the UI shows on the tick)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    @property
    def text(self) -> str:
        return "\n".join(self.messages)


@pytest.fixture
def tick_log() -> _Warnings:
    return _Warnings()


def _tick(
    instance: DagsterInstance,
    resources: dict[str, Any],
    cursor: str | None,
    log: logging.Handler | None = None,
) -> SensorResult | SkipReason:
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    if log is not None:
        ctx.log.addHandler(log)
    result = git_remote_sensor(ctx)
    assert isinstance(result, SensorResult | SkipReason)
    return result


def test_sensor_is_running_by_default_and_its_request_fits_the_code_job() -> None:
    from kgents_assets.definitions import build_defs
    from sensors.git_remote import git_run_request

    defs = build_defs()
    sensor = defs.resolve_sensor_def("git_remote_sensor")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60
    assert sensor.job_name == "code_refresh_job"
    assert sensor.description and "git ls-remote" in sensor.description
    request = git_run_request("proj", "a" * 40)
    validate_run_config(defs.resolve_job_def("code_refresh_job"), request.run_config)


def test_branch_moves_become_one_run_each_and_a_broken_remote_is_logged(
    store: Store,
    resources: dict[str, Any],
    instance: DagsterInstance,
    upstream: Upstream,
    tmp_path: Path,
    tick_log: _Warnings,
) -> None:
    add_repository(store, "proj", upstream.url)
    add_repository(store, "gone", "file:///nonexistent/repo.git")
    (tmp_path / "here").mkdir()
    add_repository(store, "here", str(tmp_path / "here"))  # local: not this sensor's

    first = _tick(instance, resources, None, tick_log)
    assert isinstance(first, SensorResult) and first.run_requests
    head = upstream.shas[0]
    [request] = first.run_requests
    assert request.partition_key == "proj"
    assert request.run_key == f"proj:{head}"
    assert request.tags["kgents/sha"] == head
    config = request.run_config["ops"]["code_nodes"]["config"]
    assert (config["changed_paths"], config["full_scan"], config["git_sha"]) == ([], False, head)
    # "proj" has no partition in this instance yet: the same tick adds it.
    [adds] = first.dynamic_partitions_requests or []
    assert (adds.partitions_def_name, list(adds.partition_keys)) == (
        REPOSITORIES_PARTITION,
        ["proj"],
    )
    assert json.loads(first.cursor or "") == {"proj": head}
    assert "repository 'gone'" in tick_log.text
    assert "does not appear to be a git repository" in tick_log.text

    second = _tick(instance, resources, first.cursor)
    assert isinstance(second, SensorResult) and not second.run_requests
    assert second.skip_reason is not None
    assert second.skip_reason.skip_message == (
        "no branch moved (1 of 2 git remotes answered); unreadable: gone"
    )
    assert second.cursor == first.cursor

    ensure_partition(instance, "proj")
    new = upstream.commit({"pkg/b.py": "b = 2\n"})
    third = _tick(instance, resources, second.cursor)
    assert isinstance(third, SensorResult)
    assert [(r.partition_key, r.run_key) for r in third.run_requests or []] == [
        ("proj", f"proj:{new}")
    ]
    assert not third.dynamic_partitions_requests
    assert json.loads(third.cursor or "") == {"proj": new}


def test_a_lost_cursor_falls_back_to_the_last_refreshed_commit(
    store: Store,
    resources: dict[str, Any],
    instance: DagsterInstance,
    upstream: Upstream,
    tmp_path: Path,
    tick_log: _Warnings,
) -> None:
    from datetime import UTC, datetime

    other = Upstream.create(tmp_path / "other")
    other_head = other.commit({"x.py": "x = 1\n"})
    add_repository(store, "proj", upstream.url)
    add_repository(store, "fresh", other.url, branch="main")
    with store.transaction() as conn:
        record_refresh(conn, "proj", run_id="r1", sha=upstream.shas[0], at=datetime.now(UTC))

    result = _tick(instance, resources, "{this is not json", tick_log)
    assert "cursor is not JSON" in tick_log.text
    assert isinstance(result, SensorResult)
    # proj was refreshed at its head: nothing to do; fresh never was: its first run.
    assert [r.run_key for r in result.run_requests or []] == [f"fresh:{other_head}"]
    assert json.loads(result.cursor or "") == {"fresh": other_head, "proj": upstream.shas[0]}


def test_no_git_repository_means_nothing_to_poll(
    store: Store, resources: dict[str, Any], instance: DagsterInstance
) -> None:
    result = _tick(instance, resources, None)
    assert isinstance(result, SkipReason)
    assert result.skip_message == "no repository is added by git URL (kg repo add NAME URL)"


@pytest.mark.slow
def test_the_requested_run_clones_the_repository_at_that_commit(
    store: Store,
    resources: dict[str, Any],
    instance: DagsterInstance,
    upstream: Upstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kgents_assets.definitions import build_defs

    workspace = tmp_path / "workspace"
    monkeypatch.setenv("KGENTS_WORKSPACE", str(workspace))
    add_repository(store, "proj", upstream.url)
    ensure_partition(instance, "proj")
    first = upstream.shas[0]
    result = _tick(instance, resources, None)
    assert isinstance(result, SensorResult)
    [request] = result.run_requests or []
    # The branch moves again before the run starts: the run reads the commit it was given.
    upstream.commit({"pkg/b.py": "def b():\n    return 2\n"})

    run = (
        build_defs()
        .resolve_job_def("code_refresh_job")
        .execute_in_process(
            run_config=request.run_config,
            instance=instance,
            partition_key="proj",
            tags=request.tags,
        )
    )
    assert run.success
    clone = workspace / "proj"
    assert sorted(p.name for p in (clone / "pkg").iterdir()) == ["a.py"]
    with store.connect() as conn:
        row = conn.execute("SELECT last_sha FROM repositories WHERE name = 'proj'").fetchone()
        files = conn.execute("SELECT path FROM hub_files WHERE repo = 'proj'").fetchall()
    assert row == (first,)
    assert files == [("pkg/a.py",)]


def test_local_git_events_and_remote_polls_tag_the_commit_the_same_way() -> None:
    """A run's commit is found under one tag whichever sensor asked for the run."""
    from kgents_assets.assets.partitions import SHA_TAG
    from sensors.run_spec import TAG_SHA

    assert TAG_SHA == SHA_TAG == "kgents/sha"
