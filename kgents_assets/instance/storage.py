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

Everything else is dagster-postgres's: this class only builds its ``DagsterPostgresStorage``
and hands out the three storages.
"""

from __future__ import annotations

import logging
import os
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

from kgents_assets.instance.server import dagster_url, ensure_database
from kgents_assets.store.database import DATABASE_URL_ENV, start_embedded_server

log = logging.getLogger(__name__)


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
            self._storage = DagsterPostgresStorage(postgres_url=dagster_url(url, database))
        super().__init__()  # type: ignore[no-untyped-call]

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
