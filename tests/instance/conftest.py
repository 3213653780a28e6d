"""Fixtures for the Dagster instance: a home with no database URL (the embedded pgserver,
stopped again after the test) and a tiny asset to run."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from kgents_assets.store.database import DATABASE_URL_ENV, start_embedded_server
from tests.pg_helpers import stop_embedded_server


@pytest.fixture
def embedded_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Nothing configured: no database URL, no DAGSTER_HOME, a KGENTS_HOME of its own.

    Not under pytest's basetemp: a concurrent pytest session prunes old basetemps, which
    would pull the embedded server's data directory from under it."""
    home = Path(tempfile.mkdtemp(prefix="kgents-instance-"))
    monkeypatch.setenv("KGENTS_HOME", str(home))
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    try:
        yield home
    finally:
        stop_embedded_server(home / "pg")
        shutil.rmtree(home, ignore_errors=True)


def embedded_dagster_url(kgents_home: Path) -> str:
    """A psycopg URL of the embedded server's ``dagster`` database, for direct queries."""
    url = start_embedded_server(kgents_home / "pg")
    return str(psycopg.conninfo.make_conninfo(url, dbname="dagster"))


def event_types(conninfo: str, run_id: str) -> set[str]:
    """The event types Dagster stored for ``run_id``, read from its ``event_logs`` table."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT DISTINCT dagster_event_type FROM event_logs "
            "WHERE run_id = %s AND dagster_event_type IS NOT NULL",
            (run_id,),
        ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def dropped_after(pg_server_url: str) -> Iterator[list[str]]:
    """Databases a test makes Dagster create; dropped when it ends."""
    names: list[str] = []
    yield names
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dg.asset
def answer() -> int:
    return 42


_TINY = dg.Definitions(assets=[answer], jobs=[dg.define_asset_job("tiny", selection=[answer])])


def run_tiny_job(
    instance: dg.DagsterInstance, run_id: str | None = None
) -> dg.ExecuteInProcessResult:
    """A real run of a one-asset job, its events stored by ``instance``."""
    return _TINY.resolve_job_def("tiny").execute_in_process(instance=instance, run_id=run_id)
