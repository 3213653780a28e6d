"""Rows the parse workers encode for COPY (copy_text) are stored exactly as psycopg's own
COPY of the same Python values stores them."""

from __future__ import annotations

from typing import Any

import pytest

from kgents_assets.hub.copy_text import copy_block, copy_encoded
from kgents_assets.store import Store
from kgents_assets.store.bulk import bulk_insert
from tests.copy_samples import TRICKY_TEXTS

COLUMNS = ["id", "body", "flag", "n", "names", "doc", "conf"]
TRICKY = list(TRICKY_TEXTS)
#: confidences as resolution gives them, and floats whose shortest repr is long or odd
FLOATS = [1.0, 0.9, 0.5, 0.3, 0.1 + 0.2, 1 / 3, 1e-7, 123456789.125, -0.0, 2.5e30]
ROWS: list[tuple[Any, ...]] = [
    (
        i,
        text,
        i % 2 == 0,
        i * 1000,
        [t for t in TRICKY if t != text][: i + 1],
        f'{{"k": "{i}"}}',
        FLOATS[i % len(FLOATS)],
    )
    for i, text in enumerate(TRICKY)
] + [
    (100, None, False, 0, [], None, None),
    (101, "x", True, -5, [""], '{"nested": {"a": [1, "\\\\t"]}}', 0.7),
]


def _table(conn: Any, name: str) -> None:
    conn.execute(
        f"CREATE TABLE {name} (id int PRIMARY KEY, body text, flag boolean, n bigint, "
        "names text[], doc jsonb, conf real)"
    )


def test_encoded_rows_store_what_psycopg_stores(store: Store) -> None:
    with store.transaction() as conn:
        _table(conn, "via_psycopg")
        _table(conn, "via_workers")
        bulk_insert(conn, "via_psycopg", COLUMNS, ROWS)
        half = len(ROWS) // 2
        copy_encoded(
            conn, "via_workers", COLUMNS, [copy_block(ROWS[:half]), copy_block(ROWS[half:])]
        )
        a = conn.execute("SELECT * FROM via_psycopg ORDER BY id").fetchall()
        b = conn.execute("SELECT * FROM via_workers ORDER BY id").fetchall()
    assert len(a) == len(ROWS)
    assert a == b
    # and what was stored is what was given
    assert [r[4] for r in b] == [list(r[4]) for r in ROWS]
    assert [r[1] for r in b] == [r[1] for r in ROWS]
    assert {r[6] for r in b} >= {round(f, 3) for f in (1.0, 0.9, 0.5, 0.3)}


def test_a_value_of_unknown_type_is_refused_with_its_type() -> None:
    with pytest.raises(TypeError, match="bytes"):
        copy_block([(b"raw",)])
