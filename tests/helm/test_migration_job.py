"""The migration hook's own script, run here as the Job runs it: the store's migrations,
`dagster instance migrate` on the chart's instance, and the repositories of the values
registered; run twice (every upgrade runs it again) it succeeds and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from tests.helm.helm_cli import Helm, find, sets
from tests.helm.test_run_launcher import _connection

pytestmark = pytest.mark.slow


def test_migration_job_script_migrates_and_registers_repositories_idempotently(
    helm: Helm, database_url: str, tmp_path: Path
) -> None:
    conn = _connection(database_url)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    rendered = helm.template(
        *sets(
            "postgresql.enabled=false",
            "externalDatabase.host=localhost",
            f"externalDatabase.port={conn['port']}",
            f"externalDatabase.database={conn['database']}",
            f"externalDatabase.username={conn['user']}",
            "externalDatabase.existingSecret=kgents-db",
            "externalDatabase.sslMode=disable",
            "repositories[0].name=kgents",
            "repositories[0].url=https://example.invalid/kgents.git",
            "repositories[0].branch=main",
            "repositories[1].name=local-checkout",
            f"repositories[1].url={checkout}",
        ),
    )
    job = find(rendered, "Job", "kg-kgents-migrate")
    container = job["spec"]["template"]["spec"]["containers"][0]
    shell, flags, script = container["command"]
    assert (shell, flags) == ("sh", "-ec")

    # The instance file the hook mounts (its own ConfigMap), reached through the socket.
    instance: dict[str, Any] = yaml.safe_load(
        find(rendered, "ConfigMap", "kg-kgents-migrate")["data"]["dagster.yaml"]
    )
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        if conn["socket_dir"]:
            instance[storage]["config"]["postgres_db"]["params"]["host"] = conn["socket_dir"]
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))

    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env.update(
        # What Kubernetes does for the Job: $(DAGSTER_PG_PASSWORD) expanded from the Secret.
        KGENTS_DATABASE_URL=database_url,
        DAGSTER_PG_PASSWORD="",
        DAGSTER_HOME=str(home),
        KGENTS_HOME=str(tmp_path / "kgents"),
        KGENTS_WORKSPACE=str(tmp_path / "kgents" / "workspace"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        HOME=str(tmp_path),
    )
    outputs = []
    for _ in range(2):
        result = subprocess.run(
            [shell, flags, script], env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout + result.stderr)
    assert "migration(s) applied" in outputs[0]
    assert "schema up to date" in outputs[1]
    assert "already registered: kgents" in outputs[1]

    with psycopg.connect(database_url) as db:
        repos = db.execute(
            "SELECT name, location, branch FROM repositories ORDER BY name"
        ).fetchall()
        partitions = db.execute(
            "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'repositories'"
            " ORDER BY partition"
        ).fetchall()
    assert repos == [
        ("kgents", "https://example.invalid/kgents.git", "main"),
        ("local-checkout", str(checkout), None),
    ]
    assert partitions == [("kgents",), ("local-checkout",)]
