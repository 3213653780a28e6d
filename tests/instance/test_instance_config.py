"""dagster.yaml written once into DAGSTER_HOME, and the instance it gives lives in Postgres."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from kgents_assets.instance import ensure_instance_config, get_instance
from kgents_assets.instance.server import dagster_url
from kgents_assets.instance.storage import InstanceConfigError
from kgents_assets.store import DatabaseUnavailable, Store
from kgents_assets.store.database import DATABASE_URL_ENV
from tests.instance.conftest import embedded_dagster_url, event_types, run_tiny_job

PASSWORD = "s3cret-Pw"  # the session server trusts local connections: any password works


def _with_password(url: str, password: str = PASSWORD) -> str:
    scheme, rest = url.split("://", 1)
    userinfo, _, hostpart = rest.partition("@")
    return f"{scheme}://{userinfo.split(':', 1)[0]}:{password}@{hostpart}"


def _storage_config(path: Path) -> dict[str, object]:
    config = yaml.safe_load(path.read_text())
    storage: dict[str, object] = config["storage"]["custom"]["config"]
    return storage


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.mark.slow
def test_nothing_configured_runs_and_events_live_in_embedded_postgres(
    embedded_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dagster_home = embedded_home / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))  # what makes Dagster warn if no file
    records = _Records()
    logging.getLogger("dagster").addHandler(records)
    try:
        with get_instance() as instance:
            result = run_tiny_job(instance)
            run = instance.get_run_by_id(result.run_id)
    finally:
        logging.getLogger("dagster").removeHandler(records)

    assert result.success and run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert not [m for m in records.messages if "No dagster instance configuration" in m]
    storage = _storage_config(dagster_home / "dagster.yaml")
    assert storage == {"embedded_dir": str((embedded_home / "pg").resolve()), "database": "dagster"}
    # The events are rows in PostgreSQL, in Dagster's own database on the embedded server.
    assert {"PIPELINE_START", "ASSET_MATERIALIZATION", "PIPELINE_SUCCESS"} <= event_types(
        embedded_dagster_url(embedded_home), result.run_id
    )
    assert not list(dagster_home.rglob("*.db")), "no SQLite storage beside the config"


@pytest.mark.slow
def test_event_watcher_sees_a_run_through_psycopg2(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dropped_after: list[str],
) -> None:
    """The regression the psycopg2 scheme prevents: under SQLAlchemy 2.1 a bare
    ``postgresql://`` is psycopg 3, and dagster-postgres's ``NOTIFY run_events, $1`` after
    every stored event fails, so no event reaches the log or a watcher."""
    dropped_after.append(f"{psycopg.conninfo.conninfo_to_dict(database_url)['dbname']}_dagster")
    monkeypatch.setenv(DATABASE_URL_ENV, database_url)
    with get_instance(tmp_path) as instance:
        seen: list[dg.EventLogEntry] = []
        finished = threading.Event()

        def on_event(entry: dg.EventLogEntry, cursor: str) -> None:
            seen.append(entry)
            if entry.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS:
                finished.set()

        run_id = str(uuid.uuid4())
        instance.event_log_storage.watch(run_id, None, on_event)
        try:
            result = run_tiny_job(instance, run_id=run_id)
            assert finished.wait(30), f"the watcher saw only {[e.dagster_event_type for e in seen]}"
        finally:
            instance.event_log_storage.end_watch(run_id, on_event)
        engine = instance.event_log_storage._engine  # type: ignore[attr-defined]
        assert engine.dialect.driver == "psycopg2"
    assert result.success
    assert dg.DagsterEventType.ASSET_MATERIALIZATION in {e.dagster_event_type for e in seen}


@pytest.mark.slow
def test_external_url_keeps_its_password_out_of_the_file(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dropped_after: list[str],
) -> None:
    url = _with_password(database_url)
    store_db = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    dropped_after.append(f"{store_db}_dagster")
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    home = tmp_path / "dagster-home"

    path = ensure_instance_config(home)

    text = path.read_text()
    assert PASSWORD not in text
    storage = _storage_config(path)
    assert storage == {"database_url": {"env": DATABASE_URL_ENV}, "database": f"{store_db}_dagster"}
    with get_instance(home) as instance:
        result = run_tiny_job(instance)
    assert result.success
    paired = psycopg.conninfo.make_conninfo(database_url, dbname=f"{store_db}_dagster")
    assert "PIPELINE_SUCCESS" in event_types(paired, result.run_id)
    assert PASSWORD not in path.read_text()


def test_a_url_with_a_password_not_from_the_environment_is_refused(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    with pytest.raises(ValueError, match="must come from \\$KGENTS_DATABASE_URL"):
        ensure_instance_config(tmp_path, database_url=_with_password(database_url))
    assert not (tmp_path / "dagster.yaml").exists()


@pytest.mark.slow
def test_a_role_that_may_not_create_databases_shares_the_store_database(
    pg_server_url: str,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A managed server's single database: Dagster's tables go beside ours, and both work."""
    store_db = psycopg.conninfo.conninfo_to_dict(store.url)["dbname"]
    role = f"r_{store_db}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
        conn.execute(f'GRANT ALL ON DATABASE "{store_db}" TO "{role}"')
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute(f'GRANT ALL ON SCHEMA public TO "{role}"')
    url = psycopg.conninfo.make_conninfo(store.url, user=role)
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    try:
        path = ensure_instance_config(tmp_path)
        assert _storage_config(path)["database"] == store_db
        with get_instance(tmp_path) as instance:
            result = run_tiny_job(instance)
        assert result.success
        assert "PIPELINE_SUCCESS" in event_types(url, result.run_id)
        assert store.migrate() == []  # our schema is untouched by Dagster's tables
        with store.connect() as conn:
            assert conn.execute("SELECT count(*) FROM hub_nodes").fetchone() == (0,)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{store_db}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_an_existing_dagster_yaml_is_never_touched(
    tmp_path: Path, kgents_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    users = f"# mine\nstorage:\n  sqlite:\n    base_dir: {tmp_path / 'history'}\n"
    path = tmp_path / "dagster.yaml"
    path.write_text(users)
    before = path.stat()

    assert ensure_instance_config(tmp_path) == path
    with get_instance(tmp_path) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"

    assert path.read_text() == users
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert not (kgents_home / "pg").exists()  # the user's file names no server to start
    assert not list(tmp_path.glob(".dagster.yaml.*.tmp"))


#: What the release before the warm run launcher wrote (32e57ca), as it wrote it; the
#: one of the release before (890c16d) had the threaded sensors block below the queue.
_EARLIER_FILE = """\
# Written by kgents: {dagster_home} had no dagster.yaml.
# kgents never overwrites this file: edit it freely, or delete it to have it written again.
#
# Runs, event log and schedules: dagster-postgres on the kgents store's server
# (kgents_assets/instance/storage.py):
#   the embedded server under {pg}, database 'dagster'
# One run per repository at a time (tag dagster/partition), at most 4 in all.
#
# Dagster sends anonymous usage statistics by default; to opt out, add:
#   telemetry:
#     enabled: false
storage:
  custom:
    module: kgents_assets.instance.storage
    class: KgentsPostgresStorage
    config:
      embedded_dir: {pg}
      database: dagster
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 4
    dequeue_interval_seconds: 1
    tag_concurrency_limits:
    - key: dagster/partition
      value:
        applyLimitPerUniqueValue: true
      limit: 1
{sensors}run_monitoring:
  enabled: true
  start_timeout_seconds: 180
"""
_THREADED_SENSORS = "sensors:\n  use_threads: true\n  num_workers: 4\n"


def _earlier_file(dagster_home: Path, pg: Path, *, threaded_sensors: bool = False) -> str:
    sensors = _THREADED_SENSORS if threaded_sensors else ""
    return _EARLIER_FILE.format(dagster_home=dagster_home, pg=pg, sensors=sensors)


@pytest.mark.slow
def test_a_file_an_earlier_release_wrote_and_nobody_edited_gets_this_releases_settings(
    embedded_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An install made before the warm launcher existed gets it (and loses the threaded
    sensors that stopped being evaluated), with its storage as it was."""
    dagster_home = embedded_home / "dagster"
    dagster_home.mkdir()
    path = dagster_home / "dagster.yaml"
    pg = (embedded_home / "pg").resolve()
    path.write_text(_earlier_file(dagster_home, pg, threaded_sensors=True))

    with caplog.at_level(logging.WARNING, logger="kgents_assets.instance.config"):
        assert ensure_instance_config(dagster_home) == path
    assert [r.getMessage() for r in caplog.records] == [
        f"updated {path} to this release's settings (kgents wrote it and it was not edited "
        "since; its storage is unchanged)"
    ]
    config = yaml.safe_load(path.read_text())
    assert config["run_launcher"] == {
        "module": "kgents_assets.instance.warm_launcher",
        "class": "WarmRunLauncher",
    }
    assert "sensors" not in config
    assert _storage_config(path) == {"embedded_dir": str(pg), "database": "dagster"}
    assert "only while nobody has edited it" in path.read_text()
    with get_instance(dagster_home) as instance:
        assert type(instance.run_launcher).__name__ == "WarmRunLauncher"
        assert run_tiny_job(instance).success

    # up to date now: the next call changes nothing and says nothing
    caplog.clear()
    before = path.stat().st_mtime_ns
    with caplog.at_level(logging.WARNING, logger="kgents_assets.instance.config"):
        ensure_instance_config(dagster_home)
    assert path.stat().st_mtime_ns == before and not caplog.records


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("max_concurrent_runs: 4", "max_concurrent_runs: 8"),
        lambda text: text + "telemetry:\n  enabled: false\n",
        lambda text: text.replace("run_monitoring:", "# mine\nrun_monitoring:"),
    ],
    ids=["a setting changed", "a setting added", "a comment added"],
)
def test_an_earlier_file_someone_edited_is_theirs_and_never_touched(
    tmp_path: Path, edit: Callable[[str], str]
) -> None:
    path = tmp_path / "dagster.yaml"
    edited = edit(_earlier_file(tmp_path, tmp_path / "pg"))
    path.write_text(edited)
    before = path.stat().st_mtime_ns

    ensure_instance_config(tmp_path)

    assert path.read_text() == edited and path.stat().st_mtime_ns == before


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_server_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://kg:{PASSWORD}@127.0.0.1:{_closed_port()}/kgents"
    monkeypatch.setenv(DATABASE_URL_ENV, url)

    with pytest.raises(DatabaseUnavailable, match="cannot reach the database at") as caught:
        get_instance(tmp_path)

    assert "127.0.0.1" in str(caught.value) and PASSWORD not in str(caught.value)
    assert not (tmp_path / "dagster.yaml").exists()


def test_a_server_gone_after_the_file_was_written_is_the_same_clear_error(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dropped_after: list[str],
) -> None:
    dropped_after.append(f"{psycopg.conninfo.conninfo_to_dict(database_url)['dbname']}_dagster")
    monkeypatch.setenv(DATABASE_URL_ENV, database_url)
    ensure_instance_config(tmp_path)
    down = f"postgresql://kg:{PASSWORD}@127.0.0.1:{_closed_port()}/kgents"
    monkeypatch.setenv(DATABASE_URL_ENV, down)

    with pytest.raises(DatabaseUnavailable, match="cannot reach the database at") as caught:
        get_instance(tmp_path).get_runs()

    assert PASSWORD not in str(caught.value)


def test_dagster_url_speaks_psycopg2_and_keeps_socket_hosts_in_the_query() -> None:
    socket_url = make_url(dagster_url("postgresql://postgres:@/postgres?host=/tmp/pg%20s", "dg"))
    assert (socket_url.drivername, socket_url.username, socket_url.password) == (
        "postgresql+psycopg2",
        "postgres",
        None,
    )
    assert (socket_url.host, socket_url.database, dict(socket_url.query)) == (
        None,
        "dg",
        {"host": "/tmp/pg s"},
    )
    tcp = make_url(dagster_url("postgres://u:p%40ss@db.example:6543/kg?sslmode=require", "kg_d"))
    assert (tcp.drivername, tcp.username, tcp.password, tcp.host, tcp.port) == (
        "postgresql+psycopg2",
        "u",
        "p@ss",
        "db.example",
        6543,
    )
    assert (tcp.database, dict(tcp.query)) == ("kg_d", {"sslmode": "require"})
    keywords = make_url(dagster_url("host=db user=u password=pw dbname=kg", "kg_d"))
    assert keywords.render_as_string(hide_password=False) == "postgresql+psycopg2://u:pw@db/kg_d"


@pytest.mark.slow
def test_the_module_writes_the_config_and_prints_dagster_home_for_dagster_dev(
    database_url: str, tmp_path: Path, dropped_after: list[str]
) -> None:
    dropped_after.append(f"{psycopg.conninfo.conninfo_to_dict(database_url)['dbname']}_dagster")
    env = {**os.environ, DATABASE_URL_ENV: database_url, "KGENTS_HOME": str(tmp_path / "kg")}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "kgents_assets.instance"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stdout.strip() == str(tmp_path / "kg" / "dagster")
    assert _storage_config(tmp_path / "kg" / "dagster" / "dagster.yaml")["database_url"] == {
        "env": DATABASE_URL_ENV
    }

    env[DATABASE_URL_ENV] = f"postgresql://kg@127.0.0.1:{_closed_port()}/kgents"
    env["DAGSTER_HOME"] = str(tmp_path / "elsewhere")
    down = subprocess.run(
        [sys.executable, "-m", "kgents_assets.instance"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 1 and down.stdout == ""
    assert "cannot reach the database at" in down.stderr


def test_a_storage_block_naming_no_server_is_refused_with_what_to_write(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(
        "storage:\n  custom:\n    module: kgents_assets.instance.storage\n"
        "    class: KgentsPostgresStorage\n    config:\n      database: dagster\n"
    )
    with pytest.raises(InstanceConfigError, match="exactly one of `database_url`"):
        get_instance(tmp_path).get_runs()


@pytest.mark.slow
def test_the_daemon_reads_the_queue_every_second_one_run_per_repository(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dropped_after: list[str],
) -> None:
    """The run queue of the save -> markdown path, as the daemon reads it from the
    instance: dequeued every second, one run per repository, no launch threads."""
    store_db = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    dropped_after.append(f"{store_db}_dagster")
    monkeypatch.setenv(DATABASE_URL_ENV, database_url)
    with get_instance(tmp_path / "dagster-home") as instance:
        assert instance.get_settings("sensors").get("use_threads", False) is False
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, dg.QueuedRunCoordinator)
        assert coordinator.dequeue_interval_seconds == 1
        assert coordinator.dequeue_use_threads is False
        queue = coordinator.get_run_queue_config()
        limits = [(t["key"], t["limit"]) for t in queue.tag_concurrency_limits]
        assert ("dagster/partition", 1) in limits
