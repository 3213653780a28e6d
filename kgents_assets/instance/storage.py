"""Dagster's storage (runs, event log, schedules) in dagster-postgres, on the store's server.

dagster.yaml names this class instead of dagster-postgres's own config block because three
things have to happen in *every* process that loads the instance (``dagster dev``, the
daemon, run workers, ``kg``, the gateway), and a static block can do none of them:

- with no ``KGENTS_DATABASE_URL``, start (or join) the embedded pgserver: after a reboot
  nothing else may have started it before ``dagster dev`` does;
- take the external URL from the environment (``{env: KGENTS_DATABASE_URL}``) and rewrite
  it for psycopg2 (see ``server.py``); dagster-postgres's ``postgres_url`` takes no scheme
  and its ``postgres_db`` form would need the password in a second variable;
- create Dagster's database on first use.

Everything else is dagster-postgres's: this class builds its ``DagsterPostgresStorage``,
hands out the three storages, and gives each a pooled connection.

Why pooled: dagster-postgres connects anew for every query (NullPool) outside the
webserver. A run of ``code_refresh_job`` for one saved file made ~280 connections (one per
event and per read); each costs a PostgreSQL backend start, and on two loaded cores that
was 9 of the run's 16 s (bench: the same run pooled took 6.7 s). So each storage keeps one
connection (more while threads need them at once, closed when they are done), the way
dagster-webserver does (``optimize_for_webserver``, without its statement timeout).

A pooled connection is a socket, and a forked child must not use or close its parent's:
before any fork in this process (the warm run worker forks a run, the embedder pool forks
workers) the idle connections are closed, and a child drops any it inherited still in use.
A kept socket can also die while idle (the server restarted, its backend was ended): a
connection idle for a while is pinged before it is handed out, and a dead one is replaced,
so long-lived processes (the daemon, the gateway, the warm worker) do not fail an
operation on it.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg
from dagster import Field, StringSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log import EventLogStorage
from dagster._core.storage.runs import RunStorage
from dagster._core.storage.schedules import ScheduleStorage
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from psycopg.conninfo import make_conninfo
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from kgents_assets.instance.server import dagster_url, ensure_database
from kgents_assets.store.database import DATABASE_URL_ENV, start_embedded_server

log = logging.getLogger(__name__)

#: Connections a pool may open beyond its one kept connection while threads need them at
#: once (the daemon's sensors, queue and monitoring); closed again when returned.
POOL_OVERFLOW = 10
#: A kept connection older than this is replaced (a server restart leaves dead ones).
POOL_RECYCLE_S = 600
NO_STATEMENT_TIMEOUT = 0
#: A kept connection idle at least this long is pinged (one ``SELECT 1``) before use. Runs
#: use their connections back to back (~280 operations for one saved file: no pings);
#: a daemon's or gateway's connection waits between ticks, long enough for a restart.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "kgents_idle_since"

#: Dagster's sessions on the embedded server do not wait for each commit's WAL flush: a run
#: commits every event (~70 for one saved file), and a flush costs 5-7 ms here against
#: 0.4 ms without. On a crash of the machine the last ~0.6 s of events can be lost (never
#: corrupted; run monitoring fails a run left without its end). A server the user runs
#: (``KGENTS_DATABASE_URL``) keeps its own setting.
EMBEDDED_SESSION_OPTIONS = "-c synchronous_commit=off"

#: The pooled storages of this process, for the fork hooks below.
_POOLED: weakref.WeakSet[EventLogStorage | RunStorage | ScheduleStorage] = weakref.WeakSet()


class InstanceConfigError(ValueError):
    """dagster.yaml names no server, or two."""


def server_url(database_url: str | None, embedded_dir: str | None) -> str:
    """The server the config names: an external URL, or the embedded pgserver (started now)."""
    if (database_url is None) == (embedded_dir is None):
        raise InstanceConfigError(
            "KgentsPostgresStorage needs exactly one of `database_url` (an external server) "
            "or `embedded_dir` (the embedded pgserver's data directory)"
        )
    if database_url is not None:
        return database_url
    assert embedded_dir is not None
    if os.environ.get(DATABASE_URL_ENV):
        # The file was written before the URL was set, and an update keeps its storage: the store
        # and its instance now live on different servers. Legal, but rarely meant.
        log.warning(
            "dagster.yaml keeps Dagster on the embedded PostgreSQL under %s while %s is set; "
            "delete dagster.yaml to move the instance to that server",
            embedded_dir,
            DATABASE_URL_ENV,
        )
    return start_embedded_server(Path(embedded_dir))


def _sessions_for(url: str, embedded_dir: str | None) -> str:
    return url if embedded_dir is None else make_conninfo(url, options=EMBEDDED_SESSION_OPTIONS)


class KgentsPostgresStorage(DagsterStorage, ConfigurableClass):
    """dagster-postgres's runs, event log and schedules, in ``database`` on the server that
    ``database_url`` names or the embedded pgserver under ``embedded_dir`` runs."""

    def __init__(
        self,
        database: str,
        database_url: str | None = None,
        embedded_dir: str | None = None,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        self._inst_data = inst_data
        url = server_url(database_url, embedded_dir)
        ensure_database(url, database)
        # dagster-postgres creates its tables (alembic's version table first) when a storage
        # is built; two processes starting on a fresh database at once (`kg hub` in two
        # terminals, the webserver and the daemon) would race on that DDL. One session lock
        # on that database makes the second wait, then find the tables there.
        with psycopg.connect(make_conninfo(url, dbname=database)) as lock:
            lock.execute("SELECT pg_advisory_lock(hashtext('kgents:dagster-schema'))")
            self._storage = DagsterPostgresStorage(
                postgres_url=dagster_url(_sessions_for(url, embedded_dir), database)
            )
        for storage in self._parts():
            storage.optimize_for_webserver(
                statement_timeout=NO_STATEMENT_TIMEOUT,
                pool_recycle=POOL_RECYCLE_S,
                max_overflow=POOL_OVERFLOW,
            )
            if (engine := _engine(storage)) is not None:
                _replace_dead_connections(engine)
            # the instance keeps these three and drops this wrapper: track them
            _POOLED.add(storage)
        super().__init__()  # type: ignore[no-untyped-call]

    def _parts(self) -> tuple[EventLogStorage, RunStorage, ScheduleStorage]:
        return (
            self._storage.event_log_storage,
            self._storage.run_storage,
            self._storage.schedule_storage,
        )

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {
            "database": Field(StringSource, description="database for Dagster's tables"),
            "database_url": Field(
                StringSource,
                is_required=False,
                description="external server; write `{env: KGENTS_DATABASE_URL}`, never a password",
            ),
            "embedded_dir": Field(
                StringSource,
                is_required=False,
                description="data directory of the embedded pgserver (started when needed)",
            ),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> KgentsPostgresStorage:
        return cls(
            database=config_value["database"],
            database_url=config_value.get("database_url"),
            embedded_dir=config_value.get("embedded_dir"),
            inst_data=inst_data,
        )

    @property
    def event_log_storage(self) -> EventLogStorage:
        return self._storage.event_log_storage

    @property
    def run_storage(self) -> RunStorage:
        return self._storage.run_storage

    @property
    def schedule_storage(self) -> ScheduleStorage:
        return self._storage.schedule_storage


def _engine(storage: object) -> Engine | None:
    # dagster-postgres keeps its engine in ``_engine`` (optimize_for_webserver replaces it
    # there); nothing public reaches it
    engine = getattr(storage, "_engine", None)
    return engine if isinstance(engine, Engine) else None


def _replace_dead_connections(engine: Engine) -> None:
    """Ping a connection that sat idle before handing it out; a dead one is discarded and
    the pool connects anew (SQLAlchemy retries a checkout that raises DisconnectionError)."""

    def checked_in(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        except Exception as exc:  # any failure here means the socket is no use
            raise DisconnectionError(f"kept connection is dead: {exc}") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checked_out)


def close_idle_connections() -> None:
    """Close the connections this process's pools keep (the next query opens a new one)."""
    for storage in list(_POOLED):
        if (engine := _engine(storage)) is not None:
            engine.dispose()


def _forget_inherited_connections() -> None:
    """In a forked child: new pools, leaving the parent's connections to the parent
    (psycopg2 never closes a connection another process opened)."""
    for storage in list(_POOLED):
        if (engine := _engine(storage)) is not None:
            engine.dispose(close=False)


os.register_at_fork(before=close_idle_connections, after_in_child=_forget_inherited_connections)
