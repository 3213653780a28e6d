"""Connections for searches: one warm connection kept per thread and database.

A search is a few milliseconds of SQL; opening a connection and teaching it the ``vector``
type costs as much again, so the gateway (many searches per second) and the benchmarks
reuse one. A kept connection is checked with a round trip before use and replaced when the
server dropped it; errors while talking to the server surface as ``DatabaseUnavailable``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from kgents_assets.catalog import storage
from kgents_assets.store import DatabaseUnavailable, Store

MAX_KEPT = 32
_KEPT: dict[tuple[int, str], psycopg.Connection[Any]] = {}
_LOCK = threading.Lock()


def _usable(conn: psycopg.Connection[Any]) -> bool:
    if conn.closed or conn.broken:
        return False
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        conn.close()
        return False
    return True


@contextmanager
def search_transaction(store: Store) -> Iterator[psycopg.Connection[Any]]:
    """A transaction on a warm connection (rolled back on error, kept for the next call)."""
    key = (threading.get_ident(), store.url)
    with _LOCK:
        conn = _KEPT.pop(key, None)
    if conn is None or not _usable(conn):
        # autocommit: the liveness probe must not leave a transaction open between calls;
        # the work itself runs in an explicit transaction block
        conn = store.connect(autocommit=True)
        storage.prepare(conn)
    keep = False
    try:
        with conn.transaction():
            yield conn
        keep = True
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"lost the database at {store.display_url}: {str(exc).strip()}"
        ) from exc
    finally:
        with _LOCK:
            if keep and not conn.broken and len(_KEPT) < MAX_KEPT:
                _KEPT[key] = conn
            else:
                conn.close()
