"""Rows the parse workers encode for a binary COPY (copy_binary) are stored exactly as
psycopg's own COPY of the same Python values stores them."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from kgents_assets.hub.copy_binary import BOOL, JSONB, TEXT, TEXT_ARRAY, RowEncoder, copy_binary
from kgents_assets.store import Store
from kgents_assets.store.bulk import bulk_insert
from tests.copy_samples import TRICKY_TEXTS

COLUMNS = ["id", "body", "flag", "names", "doc", "again"]
TYPES = [TEXT, TEXT, BOOL, TEXT_ARRAY, JSONB, TEXT]
TRICKY = list(TRICKY_TEXTS)
ROWS: list[tuple[Any, ...]] = [
    (
        str(i),
        text,
        i % 2 == 0,
        [t for t in TRICKY if t != text][: i + 1],
        json.dumps({"k": text, "n": i, "list": [text, None, 1.5]}, ensure_ascii=i % 2 == 0),
        text,
    )
    for i, text in enumerate(TRICKY)
] + [
    ("100", None, None, None, None, None),
    ("101", "x", True, [""], '{"nested": {"a": [1, "\\\\t"]}}', "x"),
    ("102", "", False, [], "[]", ""),
]


def _table(conn: psycopg.Connection[Any], name: str) -> None:
    conn.execute(
        f"CREATE TABLE {name} (id text PRIMARY KEY, body text, flag boolean, names text[], "
        "doc jsonb, again text)"
    )


def test_encoded_rows_store_what_psycopg_stores(store: Store) -> None:
    encoder = RowEncoder(TYPES)
    with store.transaction() as conn:
        _table(conn, "via_psycopg")
        _table(conn, "via_workers")
        bulk_insert(conn, "via_psycopg", COLUMNS, ROWS)
        half = len(ROWS) // 2
        blocks = (encoder.block(part) for part in (ROWS[:half], [], ROWS[half:]))
        copy_binary(conn, "via_workers", COLUMNS, blocks)
        a = conn.execute("SELECT * FROM via_psycopg ORDER BY id").fetchall()
        b = conn.execute("SELECT * FROM via_workers ORDER BY id").fetchall()
    assert len(a) == len(ROWS)
    assert a == b
    # and what was stored is what was given
    by_id = {r[0]: r for r in b}
    for row in ROWS:
        stored = by_id[row[0]]
        assert stored[1] == stored[5] == row[1]
        assert stored[3] == (list(row[3]) if row[3] is not None else None)
        assert stored[4] == (json.loads(row[4]) if row[4] is not None else None)


def test_no_blocks_start_no_copy(store: Store) -> None:
    with store.transaction() as conn:
        _table(conn, "untouched")
        copy_binary(conn, "untouched", COLUMNS, iter([b"", b""]))
        assert conn.execute("SELECT count(*) FROM untouched").fetchone() == (0,)


def test_a_row_of_the_wrong_width_or_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="6 columns"):
        RowEncoder(TYPES).row(("1", "x"))
    with pytest.raises(ValueError, match="real"):
        RowEncoder([TEXT, "real"])


def test_text_the_server_refuses_fails_the_copy_and_stores_nothing(store: Store) -> None:
    encoder = RowEncoder(TYPES)
    with store.connect() as conn:
        _table(conn, "refused")
        conn.commit()
        bad = encoder.block([("1", "nul \x00 inside", True, [], "{}", "")])
        with pytest.raises(psycopg.DataError), conn.transaction():
            copy_binary(conn, "refused", COLUMNS, [bad])
        assert conn.execute("SELECT count(*) FROM refused").fetchone() == (0,)
