"""Writes of a cold load: entries and edges of a repository that has none stored yet.

The caller holds the catalog lock and has checked that none of the entries exists, so
nothing conflicts: entries are inserted without ``ON CONFLICT``, and edges are staged
batch by batch in a temp table and stored once every entry is (an edge may point at an
entry of a later batch). Same rows, same bytes as ``storage.upsert_entries`` and
``storage.copy_new_relationships`` store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from kgents_assets.catalog import storage
from kgents_assets.catalog.errors import RelationshipCycle
from kgents_assets.catalog.models import RelationKind

_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, storage.ENTRY_ROW_COLUMNS))
_ENTRY_NAMES = sql.SQL(", ").join(map(sql.Identifier, storage.ENTRY_COLUMNS))


def copy_new_entries(
    conn: psycopg.Connection[Any],
    rows: Sequence[tuple[Any, ...]],
    tsv: Sequence[str] | None = None,
) -> int:
    """Insert entries none of which exists: ``rows`` as ``storage.entry_row`` makes them.
    ``tsv``: each entry's search vector already computed (``storage.SEARCH_TSV`` as text,
    in ``rows`` order): then one COPY straight into the table; otherwise through a temp
    table, the vectors computed by this insert."""
    if not rows:
        return 0
    if tsv is not None:
        copy_sql = sql.SQL("COPY catalog_entries ({}, tsv) FROM STDIN").format(_ENTRY_NAMES)
        with conn.cursor().copy(copy_sql) as copy:
            for row, vector in zip(rows, tsv, strict=True):
                copy.write_row((*row[:-3], vector))
        return len(rows)
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _catalog_new (id text, entity_type text, "
        "name text, version text, description text, keywords text[], status text, "
        "origin text, author text, node_id text, path text, body text, "
        "deprecation_reason text, metadata jsonb, text_hash text, fingerprint text, "
        "repo text, search_a text, search_b text, search_c text) ON COMMIT DROP"
    )
    conn.execute("TRUNCATE _catalog_new")
    with conn.cursor().copy(sql.SQL("COPY _catalog_new ({}) FROM STDIN").format(_COLUMNS)) as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute(
        sql.SQL(
            "INSERT INTO catalog_entries ({names}, tsv) SELECT {names}, {tsv} FROM _catalog_new"
        ).format(names=_ENTRY_NAMES, tsv=sql.SQL(storage.SEARCH_TSV))
    )
    return len(rows)


def stage_edges(
    conn: psycopg.Connection[Any], edges: Iterable[tuple[str, RelationKind, str]]
) -> None:
    """Keep edges of entries just written until ``store_staged_edges``."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _catalog_rel_new (src text, kind text, dst text) "
        "ON COMMIT DROP"
    )
    with conn.cursor().copy("COPY _catalog_rel_new (src, kind, dst) FROM STDIN") as copy:
        for src, kind, dst in edges:
            if src != dst:
                copy.write_row((src, kind.value, dst))


def store_staged_edges(conn: psycopg.Connection[Any]) -> int:
    """Store the staged edges (once each; those whose target is no entry are dropped, as
    ``storage.copy_new_relationships`` does), then refuse the whole write if any of them
    closed a cycle. Returns how many were stored."""
    exists = conn.execute("SELECT to_regclass('pg_temp._catalog_rel_new') IS NOT NULL").fetchone()
    if not (exists and exists[0]):
        return 0
    stored = conn.execute(
        "INSERT INTO catalog_relationships (src, kind, dst) "
        "SELECT DISTINCT src, kind, dst FROM _catalog_rel_new r "
        "WHERE EXISTS (SELECT 1 FROM catalog_entries e WHERE e.id = r.dst)"
    ).rowcount
    row = conn.execute(
        "WITH RECURSIVE walk(origin, kind, node) AS ("
        " SELECT r.src, r.kind, r.dst FROM catalog_relationships r"
        " WHERE (r.src, r.kind, r.dst) IN (SELECT src, kind, dst FROM _catalog_rel_new)"
        " UNION"
        " SELECT w.origin, w.kind, r.dst FROM walk w"
        " JOIN catalog_relationships r ON r.src = w.node AND r.kind = w.kind"
        ") SELECT origin, kind FROM walk WHERE node = origin LIMIT 1"
    ).fetchone()
    conn.execute("DROP TABLE _catalog_rel_new")
    if row:
        raise RelationshipCycle(
            f"relationship {row[1]} would form a cycle through entry {row[0]!r}: "
            f"{row[1]} relationships must stay acyclic"
        )
    return stored


__all__ = ["copy_new_entries", "stage_edges", "store_staged_edges"]
