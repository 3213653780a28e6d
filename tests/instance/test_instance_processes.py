"""The instance under `dagster dev`-like concurrency: a webserver and a daemon (separate
processes, the project venv's executables) share the written dagster.yaml with this test;
a sensor tick queues runs, the queue runs two repositories side by side and never two runs
of one repository at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import dagster as dg
import httpx
import pytest

from kgents_assets.instance import get_instance
from kgents_assets.instance.warm_launcher import WORKER_TAG

T = TypeVar("T")
BIN = Path(sys.executable).parent
DEADLINE_S = 240  # 2 shared cores: a webserver, a daemon, a code server and run workers

LOCATION = """
import time
from pathlib import Path

import dagster as dg

HERE = Path(__file__).parent
repositories = dg.StaticPartitionsDefinition(["alpha", "beta"])


@dg.asset(partitions_def=repositories)
def touched(context: dg.AssetExecutionContext) -> None:
    (HERE / f"started-{context.run.run_id}").write_text(context.partition_key)
    deadline = time.monotonic() + 300
    # alpha's runs hold their slot until the test releases them: that is what lets the
    # test see the second alpha run wait while beta runs.
    while context.partition_key == "alpha" and not (HERE / "release").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("never released")
        time.sleep(0.1)


touch_job = dg.define_asset_job("touch_job", selection=[touched], partitions_def=repositories)


@dg.sensor(
    job=touch_job, minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING
)
def trigger_sensor(context: dg.SensorEvaluationContext):
    trigger = HERE / "trigger"
    if not trigger.exists():
        return dg.SkipReason("no trigger file yet")
    return [
        dg.RunRequest(run_key=f"{key}-{trigger.read_text()}", partition_key=partition)
        for key, partition in (("alpha-1", "alpha"), ("alpha-2", "alpha"), ("beta-1", "beta"))
    ]


defs = dg.Definitions(assets=[touched], jobs=[touch_job], sensors=[trigger_sensor])
"""

WORKSPACE = """
load_from:
  - python_file:
      relative_path: defs.py
      working_directory: .
      location_name: instance_test
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _tail(path: Path, lines: int = 40) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


class Processes:
    """The webserver and the daemon, each in its own process group (they spawn code
    servers and run workers), with their output kept for the failure message."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, *args: str) -> None:
        with (self.cwd / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(BIN / name), *args],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((name, proc))

    def check_alive(self) -> None:
        for name, proc in self.started:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{_tail(self.cwd / f'{name}.log')}" for name, _ in self.started
        )

    def stop(self) -> None:
        for _, proc in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def wait_for(what: str, probe: Callable[[], T | None], procs: Processes) -> T:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        procs.check_alive()
        value = probe()
        if value is not None:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{procs.logs()}")


@pytest.fixture
def location(embedded_home: Path) -> Path:
    path = embedded_home / "location"
    path.mkdir()
    (path / "defs.py").write_text(textwrap.dedent(LOCATION))
    (path / "workspace.yaml").write_text(WORKSPACE)
    return path


@pytest.fixture
def processes(location: Path, embedded_home: Path) -> Iterator[Processes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["DAGSTER_HOME"] = str(embedded_home / "dagster")
    procs = Processes(location, env)
    try:
        yield procs
    finally:
        procs.stop()


def _graphql(port: int, query: str, **variables: str) -> dict[str, object]:
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables},
        timeout=30,
    )
    response.raise_for_status()
    body: dict[str, object] = response.json()
    assert "errors" not in body, body
    data = body["data"]
    assert isinstance(data, dict)
    return data


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_webserver_daemon_and_a_sensor_run_share_the_postgres_instance(
    location: Path, processes: Processes
) -> None:
    port = _free_port()
    with get_instance() as instance:  # writes dagster.yaml, starts the embedded server
        processes.start("dagster-daemon", "run", "-w", "workspace.yaml")
        processes.start(
            "dagster-webserver", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"
        )

        def server_info() -> dict[str, object] | None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=5)
            except httpx.TransportError:
                return None
            return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

        info = wait_for("the webserver", server_info, processes)
        assert "dagster_webserver_version" in info

        (location / "trigger").write_text("1")

        def runs() -> dict[str, dg.RunRecord]:
            records = instance.get_run_records(dg.RunsFilter(job_name="touch_job"))
            return {r.dagster_run.tags.get("dagster/run_key", ""): r for r in records}

        def beta_done_while_alpha_1_holds_its_slot() -> dict[str, dg.RunRecord] | None:
            now = runs()
            beta, alpha_1 = now.get("beta-1-1"), now.get("alpha-1-1")
            if beta is None or alpha_1 is None or "alpha-2-1" not in now:
                return None
            if beta.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
                return None
            held = alpha_1.dagster_run.status in (
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            )
            return now if held else None

        during = wait_for(
            "beta to finish while alpha-1 runs", beta_done_while_alpha_1_holds_its_slot, processes
        )
        # alpha-2 was queued before beta and the queue passed over it to start beta: the
        # tag limit held it back, not the lack of a free slot.
        assert during["alpha-2-1"].dagster_run.status == dg.DagsterRunStatus.QUEUED

        (location / "release").write_text("")

        def all_finished() -> dict[str, dg.RunRecord] | None:
            now = runs()
            done = [r for r in now.values() if r.dagster_run.is_finished]
            return now if len(done) == 3 else None

        final = wait_for("all three runs to finish", all_finished, processes)
        statuses = {key: r.dagster_run.status for key, r in final.items()}
        assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}, processes.logs()
        alpha_1, alpha_2, beta = final["alpha-1-1"], final["alpha-2-1"], final["beta-1-1"]
        assert alpha_1.end_time is not None and alpha_2.start_time is not None
        assert alpha_2.start_time >= alpha_1.end_time, "two runs of one repository overlapped"
        assert beta.start_time is not None and beta.start_time < alpha_1.end_time
        assert alpha_2.dagster_run.tags["dagster/partition"] == "alpha"
        assert alpha_2.dagster_run.tags["dagster/sensor_name"] == "trigger_sensor"
        # every run started as a fork of the daemon's warm worker (WarmRunLauncher), each
        # in a process of its own
        workers = {key: r.dagster_run.tags.get(WORKER_TAG) for key, r in final.items()}
        assert all(workers.values()), workers
        assert len({json.loads(w)["pid"] for w in workers.values() if w}) == 3

        # The webserver reads the same instance: the runs and the queue's limits.
        data = _graphql(
            port,
            "query ($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } "
            "instance { runQueueConfig { maxConcurrentRuns tagConcurrencyLimitsYaml } } }",
            runId=alpha_2.dagster_run.run_id,
        )
        assert data["runOrError"] == {"status": "SUCCESS"}
        queue = data["instance"]["runQueueConfig"]  # type: ignore[index]
        assert queue["maxConcurrentRuns"] == 4
        assert "dagster/partition" in queue["tagConcurrencyLimitsYaml"]
