"""The instance's storage keeps its connections: a run no longer opens one per event, and
a forked process (the warm run worker's runs, the embedder pool) never shares its parent's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from kgents_assets.instance import ensure_instance_config, get_instance
from kgents_assets.store.database import DATABASE_URL_ENV
from tests.instance.conftest import event_types, run_tiny_job


@pytest.fixture
def dagster_home(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dropped_after: list[str],
) -> Iterator[tuple[Path, str]]:
    """An instance on the test server: (DAGSTER_HOME, conninfo of Dagster's database)."""
    store_db = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    dropped_after.append(f"{store_db}_dagster")
    monkeypatch.setenv(DATABASE_URL_ENV, database_url)
    home = tmp_path / "dagster-home"
    ensure_instance_config(home)
    yield home, psycopg.conninfo.make_conninfo(database_url, dbname=f"{store_db}_dagster")


@pytest.fixture
def connects() -> Iterator[list[object]]:
    """Every new database connection any SQLAlchemy engine of this process opens."""
    opened: list[object] = []

    def on_connect(dbapi_connection: object, _record: object) -> None:
        opened.append(dbapi_connection)

    event.listen(Engine, "connect", on_connect)
    yield opened
    event.remove(Engine, "connect", on_connect)


@pytest.mark.slow
def test_a_run_keeps_its_connections_instead_of_one_per_event(
    dagster_home: tuple[Path, str], connects: list[object]
) -> None:
    home, dagster_db = dagster_home
    with get_instance(home) as instance:
        run_tiny_job(instance)
        before = len(connects)
        result = run_tiny_job(instance)  # ~20 events and as many reads
        opened = len(connects) - before

    assert result.success
    assert "PIPELINE_SUCCESS" in event_types(dagster_db, result.run_id)
    # one kept connection per storage at most; dagster-postgres alone opened 36 here
    assert opened <= 3, f"the run opened {opened} connections"


@pytest.mark.slow
def test_a_forked_child_and_its_parent_run_at_once_each_on_its_own_connections(
    dagster_home: tuple[Path, str],
) -> None:
    """As the warm run worker does: the instance is built, used, then the process forks
    and the child runs with it while the parent goes on using it."""
    home, dagster_db = dagster_home
    with get_instance(home) as instance:
        run_tiny_job(instance)  # the pools now keep a connection each
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                os.close(read)
                child_result = run_tiny_job(instance)
                os.write(write, child_result.run_id.encode())
                code = 0 if child_result.success else 1
            finally:
                os._exit(code)
        os.close(write)
        ours = [run_tiny_job(instance) for _ in range(3)]  # meanwhile, in the parent
        _, status = os.waitpid(pid, 0)
        child_run = os.read(read, 100).decode()
        os.close(read)
        after = run_tiny_job(instance)  # the parent's connections survived the child

    assert os.waitstatus_to_exitcode(status) == 0
    assert all(r.success for r in ours) and after.success
    for run_id in [child_run, *(r.run_id for r in ours), after.run_id]:
        assert "PIPELINE_SUCCESS" in event_types(dagster_db, run_id)


def _dagster_session_setting(instance: object, name: str) -> str:
    engine = instance.run_storage._engine  # type: ignore[attr-defined]  # dagster-postgres's
    with engine.connect() as conn:
        return str(conn.exec_driver_sql(f"SHOW {name}").scalar())


@pytest.mark.slow
def test_on_the_embedded_server_dagster_commits_without_waiting_for_the_disk(
    embedded_home: Path,
) -> None:
    with get_instance() as instance:
        assert run_tiny_job(instance).success
        assert _dagster_session_setting(instance, "synchronous_commit") == "off"


@pytest.mark.slow
def test_a_server_the_user_runs_keeps_its_own_commit_setting(
    dagster_home: tuple[Path, str],
) -> None:
    home, _ = dagster_home
    with get_instance(home) as instance:
        assert _dagster_session_setting(instance, "synchronous_commit") == "on"


@pytest.mark.slow
def test_a_kept_connection_that_died_while_idle_is_replaced_before_use(
    dagster_home: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a restarted server does to a daemon's kept connections: every backend of
    Dagster's database is ended while the pools sit idle; the next run must not notice."""
    from kgents_assets.instance import storage

    home, dagster_db = dagster_home
    monkeypatch.setattr(storage, "PING_AFTER_IDLE_S", 0.0)  # every checkout counts as idle
    with get_instance(home) as instance:
        assert run_tiny_job(instance).success  # the pools now keep a connection each
        with psycopg.connect(dagster_db, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert ended is not None and ended[0] >= 1, "no kept connection to end"
        result = run_tiny_job(instance)

    assert result.success
    assert "PIPELINE_SUCCESS" in event_types(dagster_db, result.run_id)
