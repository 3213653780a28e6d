"""The watch daemon's store reuses clean connections and only those (real PostgreSQL)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from kgents_assets.store import Store
from sensors.reused_store import MAX_IDLE, ReusingStore


def backend_pid(store: Store) -> int:
    with store.connect() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def test_a_closed_connection_is_handed_out_again(store: Store) -> None:
    reusing = ReusingStore.of(store)
    try:
        first = backend_pid(reusing)
        assert backend_pid(reusing) == first
        with reusing.transaction() as conn:
            conn.execute("CREATE TABLE reuse_probe (v int)")
            conn.execute("INSERT INTO reuse_probe VALUES (1)")
        # The transaction committed before its connection went back: a plain store sees it.
        with store.connect() as other:
            assert other.execute("SELECT v FROM reuse_probe").fetchall() == [(1,)]
        assert backend_pid(reusing) == first
    finally:
        reusing.close_idle()


def test_a_connection_in_a_failed_or_odd_state_is_really_closed(store: Store) -> None:
    reusing = ReusingStore.of(store)
    try:
        first = backend_pid(reusing)
        with pytest.raises(psycopg.errors.UndefinedTable), reusing.transaction() as conn:
            conn.execute("SELECT * FROM no_such_table")
        assert backend_pid(reusing) == first  # rolled back: clean again, so kept

        failed = reusing.connect()
        with pytest.raises(psycopg.errors.UndefinedTable):
            failed.execute("SELECT * FROM no_such_table")
        failed.close()  # closed inside its failed transaction: dropped
        assert failed.closed
        second = backend_pid(reusing)
        assert second != first

        conn = reusing.connect()
        conn.row_factory = dict_row
        conn.close()
        assert backend_pid(reusing) != second  # a changed row factory must not leak

        with reusing.connect(autocommit=True) as own:  # options: a connection of its own
            assert own.autocommit
        assert backend_pid(reusing) != second
    finally:
        reusing.close_idle()


def test_idle_connections_are_bounded_and_closed_at_the_end(store: Store) -> None:
    reusing = ReusingStore.of(store)
    held = [reusing.connect() for _ in range(MAX_IDLE + 2)]
    for conn in held:
        conn.close()
    assert len(reusing._idle) == MAX_IDLE
    assert sum(c.closed for c in held) == 2
    reusing.close_idle()
    assert all(c.closed for c in held)
