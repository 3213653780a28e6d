"""Which database on the store's server holds Dagster's tables, and how Dagster reaches it.

One store, one Dagster instance: Dagster's tables go into a database of their own beside
the store's, named after it (``{store database}_dagster``; ``dagster`` on the embedded
server, whose store database is the generic ``postgres``). Two stores on one server (two
teams, or the test suite's database per test) then never share runs, sensor cursors or
dynamic partitions, while a store and its instance always travel together. A role that may
not create databases (a managed server handing out one database) gets Dagster's tables in
the store's own database instead: their names (``runs``, ``event_logs``, ``kvs``...) do not
collide with ours, and that beats refusing to run.

The URL Dagster gets is the store's URL rewritten for SQLAlchemy's psycopg2 driver. Since
SQLAlchemy 2.1 a bare ``postgresql://`` means psycopg 3, and dagster-postgres's event log
then fails on every event (``NOTIFY run_events, $1``: psycopg 3 binds parameters
server-side, and NOTIFY takes none). A unix-socket host (the embedded pgserver's) moves to
the query string, where libpq reads it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

from kgents_assets.store.database import DatabaseUnavailable, Store

DAGSTER_DRIVER = "postgresql+psycopg2"
EMBEDDED_DAGSTER_DATABASE = "dagster"
DAGSTER_DATABASE_SUFFIX = "_dagster"
_MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names; we never want a silent truncation


def paired_database(store_database: str) -> str:
    """Dagster's database for a store database, or the store's own when the name won't fit."""
    name = f"{store_database}{DAGSTER_DATABASE_SUFFIX}"
    return name if len(name) <= _MAX_IDENTIFIER else store_database


def _exists(conn: psycopg.Connection[Any], database: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
    return row is not None


def _create(conn: psycopg.Connection[Any], database: str) -> None:
    # Another process (webserver and daemon start together) may create it first.
    with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def choose_database(store_url: str) -> str:
    """The database Dagster should use on the server of ``store_url``, decided once when
    dagster.yaml is written: the paired database if it exists or this role may create it,
    else the store's own database. Raises ``DatabaseUnavailable`` if the server is down."""
    with Store(url=store_url).connect(autocommit=True) as conn:
        current = conn.info.dbname
        target = paired_database(current)
        if target == current or _exists(conn, target):
            return target
        try:
            _create(conn, target)
        except errors.InsufficientPrivilege:
            return current
        return target


def ensure_database(server_url: str, database: str) -> None:
    """Create ``database`` on the server of ``server_url`` if it is missing (first use of an
    embedded server, or a data directory wiped since dagster.yaml was written)."""
    store = Store(url=server_url)
    # Asked of the URL's own database, the one we know exists: a failed connection to a
    # missing one says so only in a (localized) message.
    with store.connect(autocommit=True) as conn:
        if _exists(conn, database):
            return
        try:
            _create(conn, database)
        except errors.InsufficientPrivilege as exc:
            raise DatabaseUnavailable(
                f"Dagster's database {database!r} does not exist on {store.display_url} and "
                f"this role may not create it ({str(exc).strip()}); create it, or set "
                "`database` in dagster.yaml to a database the role can use"
            ) from exc


def dagster_url(server_url: str, database: str) -> str:
    """``server_url`` (URL or key=value conninfo) pointed at ``database``, for dagster-postgres."""
    params: dict[str, str] = {
        k: str(v) for k, v in conninfo_to_dict(server_url).items() if v is not None
    }
    username = params.pop("user", None) or None
    password = params.pop("password", None) or None
    host = params.pop("host", None)
    port = params.pop("port", None)
    params.pop("dbname", None)
    # A socket directory, several hosts or several ports do not fit URL syntax; libpq takes
    # them (and every other connection parameter) from the query string too.
    if host is not None and (host.startswith("/") or "," in host):
        params["host"] = host
        host = None
    if port is not None and (host is None or not port.isdigit()):
        params["port"] = port
        port = None
    url = URL.create(
        DAGSTER_DRIVER,
        username=username,
        password=password,
        host=host or None,
        port=int(port) if port else None,
        database=database,
        query=params,
    )
    return url.render_as_string(hide_password=False)
