"""The warm run launcher: runs forked from a worker that loaded the code location once are
real runs of the instance (events, status, tags), never run stale code, can be
terminated, and whatever the warm path cannot serve says why and goes to the code server."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest
from dagster._core.code_pointer import FileCodePointer
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._serdes import serialize_value
from dagster._utils.hosted_user_process import recon_repository_from_origin

from kgents_assets.instance import get_instance
from kgents_assets.instance.warm_launcher import (
    WORKER_TAG,
    StaleWorker,
    WarmRunLauncher,
    WarmWorker,
)
from kgents_assets.store.database import DATABASE_URL_ENV

T = TypeVar("T")
DEADLINE_S = 180  # 2 shared cores; a run worker that loaded nothing yet

LOCATION = """
import os
import time
from pathlib import Path

import dagster as dg

HERE = Path(__file__).parent
VERSION = "{version}"


@dg.asset
def stamped() -> None:
    (HERE / "ran").write_text(f"{{VERSION}} {{os.getpid()}}")
    deadline = time.monotonic() + 300
    while (HERE / "hold").exists():  # a run the test terminates waits here
        if time.monotonic() > deadline:
            raise RuntimeError("never released")
        time.sleep(0.05)


defs = dg.Definitions(
    assets=[stamped],
    jobs=[dg.define_asset_job("stamp", selection=[stamped])],
    executor=dg.in_process_executor,
)
"""


def wait_for(what: str, probe: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def write_location(directory: Path, version: str) -> Path:
    path = directory / "defs.py"
    path.write_text(textwrap.dedent(LOCATION.format(version=version)))
    return path


@pytest.fixture
def instance(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dropped_after: list[str],
) -> Iterator[dg.DagsterInstance]:
    import psycopg

    dropped_after.append(psycopg.conninfo.conninfo_to_dict(database_url)["dbname"] + "_dagster")
    monkeypatch.setenv(DATABASE_URL_ENV, database_url)
    with get_instance(tmp_path / "dagster-home") as inst:
        yield inst


@pytest.fixture
def origin(tmp_path: Path) -> RepositoryPythonOrigin:
    location = tmp_path / "location"
    location.mkdir()
    path = write_location(location, "v1")
    return RepositoryPythonOrigin(
        executable_path=sys.executable,
        code_pointer=FileCodePointer(str(path), "defs", str(location)),
    )


def create_run(instance: dg.DagsterInstance, origin: RepositoryPythonOrigin) -> dg.DagsterRun:
    job = recon_repository_from_origin(origin).get_definition().get_job("stamp")
    return instance.create_run_for_job(
        job_def=job,
        job_code_origin=JobPythonOrigin("stamp", origin),
        status=dg.DagsterRunStatus.STARTING,
    )


def launch(instance: dg.DagsterInstance, origin: RepositoryPythonOrigin) -> dg.DagsterRun:
    """A new run of ``stamp`` handed to the instance's launcher."""
    run = create_run(instance, origin)
    instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    return run


def finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun | None:
    run = instance.get_run_by_id(run_id)
    return run if run is not None and run.is_finished else None


def messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.message or "" for e in instance.all_logs(run_id)]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_runs_fork_from_one_warm_worker_and_are_real_runs_of_the_instance(
    instance: dg.DagsterInstance, origin: RepositoryPythonOrigin
) -> None:
    launcher = instance.run_launcher
    assert isinstance(launcher, WarmRunLauncher)  # what kgents' dagster.yaml names
    location = Path(origin.code_pointer.working_directory or "")
    pids = []
    for _ in range(2):
        run_id = launch(instance, origin).run_id
        done = wait_for("the run to finish", lambda: finished(instance, run_id))  # noqa: B023
        assert done.status == dg.DagsterRunStatus.SUCCESS, messages(instance, run_id)
        version, pid = (location / "ran").read_text().split()
        assert version == "v1"
        # the run worker wrote its pid into the run's tags before the run started
        assert json.loads(done.tags[WORKER_TAG])["pid"] == int(pid)
        events = {e.dagster_event.event_type for e in instance.all_logs(run_id)
                  if e.dagster_event}  # fmt: skip
        assert dg.DagsterEventType.RUN_START in events
        assert dg.DagsterEventType.ASSET_MATERIALIZATION in events
        assert any("Forked run worker" in m for m in messages(instance, run_id))
        pids.append(int(pid))
    assert pids[0] != pids[1], "each run is its own process"
    assert instance.get_latest_materialization_event(dg.AssetKey("stamped")) is not None


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_changed_location_is_loaded_again_before_the_next_run(
    instance: dg.DagsterInstance, origin: RepositoryPythonOrigin
) -> None:
    location = Path(origin.code_pointer.working_directory or "")
    ref = serialize_value(instance.get_ref())
    worker = WarmWorker(origin, ref)
    try:
        first = create_run(instance, origin)
        worker.start(first.run_id, ref)
        wait_for("the first run", lambda: finished(instance, first.run_id))
        path = write_location(location, "v2")
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))  # a coarse clock
        with pytest.raises(StaleWorker, match=r"defs\.py changed"):
            worker.start(create_run(instance, origin).run_id, ref)
        assert not worker.alive()
    finally:
        worker.close()

    # The launcher replaces a stale worker by a fresh one: the run runs the new code.
    assert isinstance(instance.run_launcher, WarmRunLauncher)
    run = launch(instance, origin)
    done = wait_for("the run after the edit", lambda: finished(instance, run.run_id))
    assert done.status == dg.DagsterRunStatus.SUCCESS
    assert (location / "ran").read_text().split()[0] == "v2"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_terminate_cancels_a_warm_launched_run(
    instance: dg.DagsterInstance, origin: RepositoryPythonOrigin
) -> None:
    location = Path(origin.code_pointer.working_directory or "")
    (location / "hold").write_text("")
    launcher = instance.run_launcher
    run = launch(instance, origin)
    wait_for("the run to be inside its step", lambda: (location / "ran").exists() or None)
    assert launcher.terminate(run.run_id)
    done = wait_for("the run to stop", lambda: finished(instance, run.run_id))
    assert done.status == dg.DagsterRunStatus.CANCELED, messages(instance, run.run_id)


def test_a_run_the_warm_path_cannot_serve_says_why_and_goes_to_the_code_server(
    instance: dg.DagsterInstance, origin: RepositoryPythonOrigin
) -> None:
    elsewhere = origin._replace(executable_path="/nonexistent/bin/python")
    run = create_run(instance, elsewhere)
    # No workspace here: the code server path refuses, after the event says why.
    with pytest.raises(Exception, match="requires a workspace"):
        instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    assert any(
        "Launching through the code server: /nonexistent/bin/python is not on this machine" in m
        for m in messages(instance, run.run_id)
    )
