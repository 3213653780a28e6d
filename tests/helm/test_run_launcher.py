"""The rendered instance is a working deployment: its ``dagster.yaml`` loads into a real
DagsterInstance on Postgres, and a run of the code location, served over gRPC as the chart
serves it, is launched by the chart's K8sRunLauncher as a Job on a Kubernetes API
(kmock's emulator on loopback): a strictly valid Job with the chart's image, account,
namespace, secrets, env and volumes, and engine events in the Postgres event log.

Only how to reach things on this machine is overridden: the database's socket directory
(pgserver listens on no TCP port) and the kubeconfig of the emulator instead of the
in-cluster config; everything else is the chart's own rendering.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import psycopg
import pytest
import yaml

from tests.helm.helm_cli import NAMESPACE, Helm, find, sets
from tests.helm.kube_emulator import Emulator, kube_emulator

IMAGE = "registry.example/kgents/kgents-assets:1.2.3"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _connection(database_url: str) -> dict[str, str]:
    parts = urlsplit(database_url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {
        "user": parts.username or "postgres",
        "database": parts.path.lstrip("/"),
        "socket_dir": query.get("host", ""),
        "port": str(parts.port or 5432),
    }


@pytest.fixture
def rendered(helm: Helm, database_url: str) -> list[dict[str, Any]]:
    conn = _connection(database_url)
    return helm.template(
        *sets(
            "postgresql.enabled=false",
            "externalDatabase.host=localhost",
            f"externalDatabase.port={conn['port']}",
            f"externalDatabase.database={conn['database']}",
            f"externalDatabase.username={conn['user']}",
            "externalDatabase.existingSecret=kgents-db",
            "externalDatabase.sslMode=disable",
            "image.repository=registry.example/kgents/kgents-assets",
            "image.tag=1.2.3",
            "image.pullSecrets[0]=registry-creds",
            "dagster.runLauncher.envSecrets[0]=embedder-api-key",
            "workspace.persistence.enabled=true",
        ),
    )


def instance_config(
    rendered: list[dict[str, Any]], database_url: str, emulator: Emulator
) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        find(rendered, "ConfigMap", "kg-kgents-instance")["data"]["dagster.yaml"]
    )
    socket_dir = _connection(database_url)["socket_dir"]
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        db = config[storage]["config"]["postgres_db"]
        assert db["scheme"] == "postgresql+psycopg2"
        assert db["password"] == {"env": "DAGSTER_PG_PASSWORD"}
        if socket_dir:
            db["params"]["host"] = socket_dir
    launcher = config["run_launcher"]["config"]
    assert launcher["load_incluster_config"] is True
    launcher["load_incluster_config"] = False
    launcher["kubeconfig_file"] = str(emulator.kubeconfig)
    return config


@pytest.fixture
def code_server(rendered: list[dict[str, Any]], tmp_path: Path) -> Iterator[Path]:
    """The code location served as the chart's Deployment serves it; yields a workspace.yaml
    (the chart's, pointed at this loopback port)."""
    deployment = find(rendered, "Deployment", "kg-kgents-code")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[:6] == ["dagster", "api", "grpc", "-m", "kgents_assets.definitions", "-h"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DAGSTER_CURRENT_IMAGE"] == IMAGE
    port = free_port()
    dagster = Path(sys.executable).parent / "dagster"
    process = subprocess.Popen(
        [str(dagster), *command[1:5], "-h", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "DAGSTER_CURRENT_IMAGE": IMAGE},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    workspace = yaml.safe_load(
        find(rendered, "ConfigMap", "kg-kgents-workspace-yaml")["data"]["workspace.yaml"]
    )
    grpc = workspace["load_from"][0]["grpc_server"]
    assert (grpc["host"], grpc["port"]) == ("kg-kgents-code", 4000)
    grpc.update(host="127.0.0.1", port=port)
    path = tmp_path / "workspace.yaml"
    path.write_text(yaml.safe_dump(workspace))
    try:
        from dagster._grpc.client import DagsterGrpcClient

        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        deadline = time.monotonic() + 120
        while True:
            try:
                client.ping("ready")
                break
            except Exception:
                if process.poll() is not None:
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"the code server exited:\n{output}")
                assert time.monotonic() < deadline, "the code server did not answer"
                time.sleep(0.3)
        yield path
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_chart_instance_launches_a_run_as_a_valid_job(
    rendered: list[dict[str, Any]],
    database_url: str,
    code_server: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )
    from dagster_k8s import K8sRunLauncher

    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")  # pgserver trusts local connections
    home = tmp_path / "dagster_home"
    home.mkdir()
    with kube_emulator(tmp_path, NAMESPACE) as emulator:
        config = instance_config(rendered, database_url, emulator)
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        with DagsterInstance.from_config(str(home)) as instance:
            assert isinstance(instance.run_launcher, K8sRunLauncher)
            limits = instance.get_concurrency_config().run_queue_config
            assert limits is not None and limits.max_concurrent_runs == 10
            assert [
                (rule["key"], rule["value"], rule["limit"])
                for rule in limits.tag_concurrency_limits
            ] == [("dagster/partition", {"applyLimitPerUniqueValue": True}, 1)]

            with WorkspaceProcessContext(
                instance, WorkspaceFileTarget(paths=[str(code_server)])
            ) as context:
                location = context.create_request_context().get_code_location("kgents_assets")
                repository = next(iter(location.get_repositories().values()))
                remote_job = repository.get_full_job("materialize_all")
                # Two queued runs of one repository: the coordinator launches only one.
                runs = [
                    create_run_for_test(
                        instance,
                        job_name="materialize_all",
                        status=DagsterRunStatus.QUEUED,
                        tags={"dagster/partition": "demo"},
                        remote_job_origin=remote_job.get_remote_origin(),
                        job_code_origin=remote_job.get_python_origin(),
                        job_snapshot=remote_job.job_snapshot,
                    )
                    for _ in range(2)
                ]
                list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))
            statuses = [instance.get_run_by_id(r.run_id).status for r in runs]  # type: ignore[union-attr]
            assert sorted(s.value for s in statuses) == ["QUEUED", "STARTING"]
            launched = runs[statuses.index(DagsterRunStatus.STARTING)]

        jobs = emulator.objects("jobs")
        assert len(jobs) == 1
        job = jobs[0]

    # What Kubernetes would accept, field by field (the client sends camelCase JSON).
    job.setdefault("apiVersion", "batch/v1")
    job.setdefault("kind", "Job")
    for version in ("1.30", "1.33"):
        kubernetes_validate.validate(job, version, strict=True)

    assert job["metadata"]["labels"]["dagster/run-id"] == launched.run_id
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert pod["serviceAccountName"] == "kg-kgents"
    assert pod["imagePullSecrets"] == [{"name": "registry-creds"}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["limits"]["memory"] == "2Gi"

    env = container["env"]
    names = [e["name"] for e in env]
    password = env[names.index("DAGSTER_PG_PASSWORD")]
    assert password["valueFrom"]["secretKeyRef"] == {
        "name": "kgents-db",
        "key": "postgresql-password",
    }
    url = env[names.index("KGENTS_DATABASE_URL")]["value"]
    assert url.startswith("postgresql://postgres:$(DAGSTER_PG_PASSWORD)@localhost:")
    assert names.index("DAGSTER_PG_PASSWORD") < names.index("KGENTS_DATABASE_URL")
    env_from = container["envFrom"]
    assert {"configMapRef": {"name": "kg-kgents-env"}} in env_from
    assert {"secretRef": {"name": "embedder-api-key"}} in env_from

    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["workspace"]["persistentVolumeClaim"] == {"claimName": "kg-kgents-workspace"}
    assert "emptyDir" in volumes["tmp"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/var/lib/kgents/workspace"] == "workspace"
    assert mounts["/tmp"] == "tmp"
    assert container["args"][:3] == ["dagster", "api", "execute_run"]

    # The launcher's engine events are rows of the Postgres event log.
    from dagster import EventLogEntry
    from dagster._serdes import deserialize_value

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event FROM event_logs WHERE run_id = %s"
            " AND dagster_event_type = 'ENGINE_EVENT' ORDER BY id",
            (launched.run_id,),
        ).fetchall()
    entries = [deserialize_value(row[0], EventLogEntry) for row in rows]
    messages = [entry.dagster_event.message for entry in entries if entry.dagster_event]
    assert messages == [
        "[K8sRunLauncher] Creating Kubernetes run worker job",
        "[K8sRunLauncher] Kubernetes run worker job created",
    ]
