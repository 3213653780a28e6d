"""The search connection pool: warm connections, a server that drops them, one that is down."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import psycopg
import pytest

from kgents_assets.catalog import connections
from kgents_assets.catalog.connections import close_pools, run_search, set_ef_search
from kgents_assets.store import DatabaseUnavailable, Store


@pytest.fixture(autouse=True)
def _no_pools_left() -> Any:
    yield
    close_pools()


def _backend_pid(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def _terminate_all(store: Store, pg_server_url: str) -> int:
    dbname = store.url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return len(rows)


def test_searches_reuse_a_warm_connection_that_knows_vectors(store: Store) -> None:
    first = run_search(store, _backend_pid)
    assert run_search(store, _backend_pid) == first
    # storage.prepare ran on it: a vector comes back as a pgvector value, not a string.
    row = run_search(store, lambda c: c.execute("SELECT '[1,2,3]'::vector").fetchone())
    assert row is not None and row[0].to_list() == [1.0, 2.0, 3.0]


def test_a_connection_the_server_dropped_is_replaced_without_a_failed_search(
    store: Store, pg_server_url: str
) -> None:
    before = run_search(store, _backend_pid)
    assert _terminate_all(store, pg_server_url) >= 1
    after = run_search(store, _backend_pid)  # would raise if the dead one were lent
    assert after != before


def test_ef_search_is_set_on_a_replacement_connection(store: Store, pg_server_url: str) -> None:
    def show(conn: psycopg.Connection[Any]) -> Any:
        set_ef_search(conn, 77)
        return conn.execute("SHOW hnsw.ef_search").fetchone()

    assert run_search(store, show) == ("77",)
    _terminate_all(store, pg_server_url)
    # A cache keyed by a recycled id() would skip the SET on the new session.
    assert run_search(store, show) == ("77",)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_that_is_down_is_a_clear_error_not_a_pool_timeout() -> None:
    down = Store(url=f"postgresql://kg:pw@127.0.0.1:{_free_port()}/none")
    started = time.monotonic()
    with pytest.raises(
        DatabaseUnavailable, match=r"cannot reach the database at postgresql://kg:\*\*\*@127.0.0.1"
    ):
        run_search(down, _backend_pid)
    assert time.monotonic() - started < connections.CONNECT_TIMEOUT_S + 2
    assert down.url not in connections._POOLS  # no pool left retrying in the background


def test_a_database_gone_after_the_pool_opened_is_a_clear_error(pg_server_url: str) -> None:
    name = f"t_gone_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = pg_server_url.partition("?")
    store = Store(url=f"{base.rsplit('/', 1)[0]}/{name}?{query}")
    with psycopg.connect(store.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    run_search(store, _backend_pid)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match=f'database "{name}" does not exist'):
        run_search(store, _backend_pid)
    assert time.monotonic() - started < connections.CONNECT_TIMEOUT_S


def test_a_search_that_loses_the_server_midway_says_so(store: Store, pg_server_url: str) -> None:
    def killed_midway(conn: psycopg.Connection[Any]) -> Any:
        _terminate_all(store, pg_server_url)
        return conn.execute("SELECT 1").fetchone()

    with pytest.raises(DatabaseUnavailable, match="lost the database"):
        run_search(store, killed_midway)
    assert run_search(store, lambda c: c.execute("SELECT 1").fetchone()) == (1,)


def test_a_connection_that_dies_after_it_was_lent_costs_no_failed_search(
    store: Store, pg_server_url: str
) -> None:
    # The server drops the connection between the pool's look at it and the first
    # statement (a restart at the wrong moment): the read-only work runs again on a
    # fresh connection instead of failing.
    calls: list[int] = []

    def work(conn: psycopg.Connection[Any]) -> int:
        calls.append(conn.info.backend_pid)
        if len(calls) == 1:
            _terminate_all(store, pg_server_url)
        return _backend_pid(conn)

    run_search(store, _backend_pid)  # a warm connection in the pool
    pid = run_search(store, work)
    assert len(calls) == 2 and pid == calls[1] != calls[0]


def test_a_pooled_connection_is_lent_without_a_round_trip(store: Store, tmp_path: Any) -> None:
    trace = tmp_path / "trace.log"
    with trace.open("w") as sink:
        run_search(store, lambda c: c.pgconn.trace(sink.fileno()))
        lent = run_search(store, lambda c: c.pgconn.untrace())
    assert lent is None
    assert trace.read_text() == ""  # borrowing and returning it sent nothing
    # while a connection the server closed is still noticed (and replaced) when lent
    before = run_search(store, _backend_pid)
    with psycopg.connect(store.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (before,))
    assert run_search(store, _backend_pid) != before
