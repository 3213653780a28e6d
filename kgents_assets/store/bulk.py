"""Bulk writes: COPY into a temp table, then one set-based upsert.

Row-by-row INSERTs cost a round trip each; a cold build writes tens of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql


def bulk_upsert(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert ``rows``; on a key conflict overwrite ``update`` columns (default: all others)."""
    temp = sql.Identifier(f"_bulk_{table}")
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP"
        ).format(temp, sql.Identifier(table))
    )
    conn.execute(sql.SQL("TRUNCATE {}").format(temp))
    count = 0
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(temp, cols)) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    if not count:
        return 0
    to_update = [c for c in (update if update is not None else columns) if c not in key]
    action = (
        sql.SQL("DO UPDATE SET ")
        + sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in to_update
        )
        if to_update
        else sql.SQL("DO NOTHING")
    )
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) ").format(
            sql.Identifier(table), cols, cols, temp, sql.SQL(", ").join(map(sql.Identifier, key))
        )
        + action
    )
    return count


def bulk_insert(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """COPY rows straight into ``table``: for rows known to be new (no key conflicts)."""
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    count = 0
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), cols)
    ) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
