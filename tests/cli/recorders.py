"""Waiting for the detached Dagster recorders ``kg hub --once`` leaves running after it
exits (``kgents_assets.cli.hub_record``): a test waits for them before its KGENTS_HOME and
its database go away, so no recorder outlives the test that started it."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from kgents_assets.cli.hub_record import logs_dir
from kgents_assets.instance.server import paired_database


def wait_for_recorders(timeout_s: float = 120.0) -> int:
    """Wait until every recorder started under this ``$KGENTS_HOME`` has exited (its pid
    file is written by the command before it exits); returns how many were waited for."""
    deadline = time.monotonic() + timeout_s
    waited = 0
    for pid_file in sorted(logs_dir().glob("hub-record.*.pid")):
        try:
            pid = int(pid_file.read_text())
            fd = os.pidfd_open(pid)
        except (OSError, ValueError):  # gone meanwhile: its file went with it
            continue
        try:
            # readable once the process has exited: no polling
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)
        if not ready:
            raise AssertionError(f"recorder {pid} still running after {timeout_s:.0f} s")
        waited += 1
    return waited


@contextmanager
def dagster_writes_blocked(database_url: str) -> Iterator[None]:
    """Hold the Dagster event log locked (its table in the instance's database, paired
    with the store's), so a recorder stays pending until the block ends: the window a test
    acts in. The instance must exist (its tables created) before."""
    with psycopg.connect(database_url) as conn:
        dagster_db = paired_database(conn.info.dbname)
    with psycopg.connect(make_conninfo(database_url, dbname=dagster_db)) as conn:
        conn.execute("LOCK TABLE event_logs IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def waiting_on_record_lock(database_url: str) -> int:
    """Backends of this test's database waiting for an advisory lock (a reader waiting for
    a pending record); other tests share the server, and their waits are not this one's."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


def hub_environment(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The body of a ``kg hub`` test's ``env`` fixture: this process and the ``kg`` it
    starts share one database, Dagster instance and fixtures directory; the default
    embedder and trust level; wide Rich output. The recorders are waited for afterwards."""
    (tmp_path / "dagster_home").mkdir()
    values = {
        "KGENTS_DATABASE_URL": database_url,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "KGENTS_FIXTURES_DIR": str(tmp_path / "fixtures"),
        "COLUMNS": "200",
    }
    for key, value in values.items():  # this process reads the same instance
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KGENTS_EMBEDDER", raising=False)
    monkeypatch.delenv("KGENTS_TRUST_LEVEL", raising=False)
    yield {**os.environ}
    wait_for_recorders()  # an edit's detached recorder, before the database goes
