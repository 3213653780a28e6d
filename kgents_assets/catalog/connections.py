"""Connections for searches: a small ``psycopg_pool`` pool per database.

A search is a few milliseconds of SQL; opening a connection and teaching it the ``vector``
type costs as much again, so the gateway (many searches per second) and the benchmarks
borrow warm connections from a pool. Searches only read, so pooled connections run in
autocommit mode: no BEGIN/COMMIT round trips, and an idle connection never holds a
transaction open.

A server that went away: a connection the server closed (a restart, a terminated backend)
has something to read on its socket while it sits idle in the pool, so the pool looks at
the socket as it lends a connection (no round trip: a search is ~1 ms of SQL, a round trip
on a busy machine can be as much) and only then asks the server with an empty query,
replacing a dead one. A connection that dies between that look and the search's first
statement is replaced and the read-only search runs once more on a fresh one, so a
restart of PostgreSQL costs no failed search. A server that stays down surfaces as
``DatabaseUnavailable`` with the driver's reason after at most ``CONNECT_TIMEOUT_S``, never
as a pool timeout without a cause.
"""

from __future__ import annotations

import atexit
import logging
import select
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from kgents_assets.catalog import storage
from kgents_assets.store import DatabaseUnavailable, Store
from kgents_assets.store.database import CONNECT_TIMEOUT_S

T = TypeVar("T")
#: Connections per database: the gateway runs searches on a thread pool of about this size.
POOL_MAX_SIZE = 8
#: Databases with a pool at once; the least recently used pool is closed beyond this (tests
#: and benchmarks open many short-lived databases in one process).
MAX_POOLS = 8
#: How long a search waits for a pooled connection before asking the server directly
#: whether it is down; searches take milliseconds, so a second means trouble.
FIRST_WAIT_S = 1.0
_POOLS: OrderedDict[str, ConnectionPool[psycopg.Connection[Any]]] = OrderedDict()
_POOLS_LOCK = threading.Lock()
# hnsw.ef_search set on each pooled session; dies with its connection, whatever closes it.
_EF_SEARCH: weakref.WeakKeyDictionary[psycopg.Connection[Any], int] = weakref.WeakKeyDictionary()

# The pool logs every failed reconnection attempt at WARNING; the search that needed the
# connection already reports the cause as DatabaseUnavailable.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)


def set_ef_search(conn: psycopg.Connection[Any], value: int) -> None:
    """Set ``hnsw.ef_search`` for the session, skipping the round trip when already set."""
    if _EF_SEARCH.get(conn) != value:
        conn.execute(sql.SQL("SET hnsw.ef_search = {}").format(sql.Literal(value)))
        _EF_SEARCH[conn] = value


def check_idle_connection(conn: psycopg.Connection[Any]) -> None:
    """Raise when ``conn`` is dead. An idle search connection receives nothing (no LISTEN)
    unless the server hung up on it, so a quiet socket means alive: no round trip then."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    # poll, not select: a gateway with a thousand observers has descriptors past 1024
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):  # a goodbye from the server, or EOF: let the driver read it and tell
        ConnectionPool.check_connection(conn)


def _open_pool(store: Store) -> ConnectionPool[psycopg.Connection[Any]]:
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        store.url,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
        min_size=1,
        max_size=POOL_MAX_SIZE,
        open=False,
        configure=storage.prepare,
        check=check_idle_connection,
        timeout=CONNECT_TIMEOUT_S,
        name="catalog-search",
    )
    # A direct connection first: a server that is down fails at once with libpq's reason,
    # where the pool would retry in the background until its timeout.
    store.connect().close()
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except PoolTimeout:
        pool.close(timeout=0)
        raise _unavailable(store) from None
    return pool


def _pool(store: Store) -> ConnectionPool[psycopg.Connection[Any]]:
    with _POOLS_LOCK:
        pool = _POOLS.get(store.url)
        if pool is not None:
            _POOLS.move_to_end(store.url)
            return pool
    # Opened outside the lock: a slow or down server must not stall searches elsewhere.
    pool = _open_pool(store)
    with _POOLS_LOCK:
        existing = _POOLS.get(store.url)
        if existing is None:
            _POOLS[store.url] = pool
            evicted = _POOLS.popitem(last=False)[1] if len(_POOLS) > MAX_POOLS else None
        else:  # another thread won the race: keep its pool
            evicted, pool = pool, existing
    if evicted is not None:
        evicted.close(timeout=0)
    return pool


def _unavailable(store: Store) -> DatabaseUnavailable:
    """Why the pool could not lend a connection, in the words of a direct connection."""
    try:
        store.connect().close()
    except DatabaseUnavailable as exc:
        return exc
    return DatabaseUnavailable(
        f"no free connection to {store.display_url} within {CONNECT_TIMEOUT_S}s "
        f"({POOL_MAX_SIZE} searches already running)"
    )


def _borrow(store: Store, pool: ConnectionPool[psycopg.Connection[Any]]) -> psycopg.Connection[Any]:
    """A checked connection from ``pool``. The pool only says "timed out", so after a
    short wait a direct connection asks the server: down is an error at once (with the
    reason), merely busy keeps waiting up to ``CONNECT_TIMEOUT_S``."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        try:
            return pool.getconn(timeout=max(min(FIRST_WAIT_S, remaining), 0.01))
        except PoolTimeout:
            error = _unavailable(store)
            if remaining <= FIRST_WAIT_S or "no free connection" not in str(error):
                raise error from None


def run_search(store: Store, work: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run read-only ``work`` on a pooled, checked connection to ``store``.

    ``work`` may run twice: when the connection broke under it (the server closed it after
    the pool lent it), the other idle connections are checked and ``work`` runs once more
    on a fresh one. A second loss is reported."""
    pool = _pool(store)
    retry = True
    while True:
        conn = _borrow(store, pool)
        try:
            return work(conn)
        except psycopg.OperationalError as exc:
            if not (retry and conn.broken):
                raise DatabaseUnavailable(
                    f"lost the database at {store.display_url}: {store.reason(exc)}"
                ) from exc
        finally:
            pool.putconn(conn)  # a broken connection is discarded and replaced by the pool
        retry = False
        pool.check()  # its idle siblings most likely died with it (a restart): replace them


def close_pools() -> None:
    """Close every pool (at exit, or when a process is done searching)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close(timeout=0)


atexit.register(close_pools)
