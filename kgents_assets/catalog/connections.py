"""Connections for searches: one warm connection kept per thread and database.

A search is a few milliseconds of SQL; opening a connection and teaching it the ``vector``
type costs as much again, so the gateway (many searches per second) and the benchmarks
reuse one. Searches only read, so they run in autocommit mode: no BEGIN/COMMIT round
trips, and an idle kept connection never holds a transaction open. A kept connection the
server dropped in the meantime is replaced and the search retried once; a fresh connection
that fails surfaces as ``DatabaseUnavailable``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from kgents_assets.catalog import storage
from kgents_assets.store import DatabaseUnavailable, Store

T = TypeVar("T")
MAX_KEPT = 32
_KEPT: dict[tuple[int, str], psycopg.Connection[Any]] = {}
_EF_SEARCH: dict[int, int] = {}  # id(connection) -> hnsw.ef_search set on its session
_LOCK = threading.Lock()


def set_ef_search(conn: psycopg.Connection[Any], value: int) -> None:
    """Set ``hnsw.ef_search`` for the session, skipping the round trip when already set."""
    if _EF_SEARCH.get(id(conn)) != value:
        conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(value)))
        _EF_SEARCH[id(conn)] = value


def _fresh(store: Store) -> psycopg.Connection[Any]:
    conn = store.connect(autocommit=True)
    storage.prepare(conn)
    return conn


def _discard(conn: psycopg.Connection[Any]) -> None:
    _EF_SEARCH.pop(id(conn), None)
    conn.close()


def run_search(store: Store, work: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run read-only ``work`` on this thread's warm connection to ``store``."""
    key = (threading.get_ident(), store.url)
    with _LOCK:
        kept = _KEPT.pop(key, None)
    attempts = [kept, None] if kept is not None and not kept.closed else [None]
    for conn in attempts:
        conn = conn or _fresh(store)
        try:
            result = work(conn)
        except psycopg.OperationalError as exc:
            _discard(conn)
            if conn is kept:
                continue  # the server dropped the idle connection: retry on a new one
            raise DatabaseUnavailable(
                f"lost the database at {store.display_url}: {str(exc).strip()}"
            ) from exc
        except BaseException:
            _discard(conn)
            raise
        with _LOCK:
            if len(_KEPT) < MAX_KEPT and not conn.broken:
                _KEPT[key] = conn
            else:
                _discard(conn)
        return result
    raise AssertionError("unreachable: the last attempt returns or raises")
