"""Writes of a cold load: entries and edges of a repository that has none stored yet.

The caller holds the catalog lock and has checked that none of the entries exists, so
nothing conflicts: entries are inserted without ``ON CONFLICT``; an edge between two of
the load's entries is stored with the later of the two (``store_ready_edges``), any other
is staged in a temp table and stored once every entry is (``store_staged_edges``).
Same rows, same bytes as ``storage.upsert_entries`` and ``storage.copy_new_relationships``
store.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
import pydantic_core
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.json import Jsonb

from kgents_assets.catalog import storage
from kgents_assets.catalog.errors import RelationshipCycle
from kgents_assets.catalog.models import RelationKind

#: fixed oids of built-in types
TEXT_OID, TEXT_ARRAY_OID, TSVECTOR_OID, JSONB_OID = 25, 1009, 3614, 3802


class _TsvectorMarker:
    """Nothing is of this type: it names the dumper registered for ``tsvector``'s oid."""


class _TextArrayMarker:
    """Likewise for ``text[]``."""


class _JsonbMarker:
    """Likewise for ``jsonb``."""


_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, storage.ENTRY_ROW_COLUMNS))
_ENTRY_NAMES = sql.SQL(", ").join(map(sql.Identifier, storage.ENTRY_COLUMNS))


class _Verbatim(Dumper):
    """Binary COPY of a value that is already its type's binary form (``bytes``)."""

    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


class _TsvectorVerbatim(_Verbatim):
    oid = TSVECTOR_OID


class _TextArrayVerbatim(_Verbatim):
    oid = TEXT_ARRAY_OID


class _JsonbVerbatim(_Verbatim):
    oid = JSONB_OID


def _jsonb_binary(value: Jsonb) -> bytes:
    """``jsonb_recv``'s input: format version 1, then the JSON text. Serialised by
    pydantic-core (~4x faster than the ``json.dumps`` psycopg's dumper runs per row); the
    server parses the text into the same ``jsonb`` either way (tests/catalog/test_copy_rows
    holds it to psycopg's ``Jsonb``)."""
    return b"\x01" + pydantic_core.to_json(value.obj)


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def _text_array_binary(literal: str) -> bytes:
    """``storage.text_array_literal``'s literal (every element quoted) as ``array_send``
    writes the ``text[]`` it stands for: one dimension, no NULL, element oid ``text``."""
    elements = [_ESCAPED.sub(r"\1", m).encode() for m in _QUOTED.findall(literal)]
    if not elements:
        return struct.pack(">iiI", 0, 0, TEXT_OID)
    head = struct.pack(">iiIii", 1, 0, TEXT_OID, len(elements), 1)
    return head + b"".join(len(e).to_bytes(4, "big") + e for e in elements)


class _BinaryArrays(dict[str, bytes]):
    """keywords literal -> binary ``text[]``; entries share a few hundred keyword lists."""

    def __missing__(self, literal: str) -> bytes:
        if len(self) >= 4096:
            self.clear()
        value = self[literal] = _text_array_binary(literal)
        return value


_KEYWORDS_BINARY = _BinaryArrays()
_KEYWORDS_AT = storage.ENTRY_COLUMNS.index("keywords")
_METADATA_AT = storage.ENTRY_COLUMNS.index("metadata")
#: Column types of a binary COPY of ``storage.ENTRY_COLUMNS`` + ``tsv``
_BINARY_TYPES = [
    "jsonb" if c == "metadata" else "text[]" if c == "keywords" else "text"
    for c in storage.ENTRY_COLUMNS
] + ["tsvector"]


def copy_new_entries(
    conn: psycopg.Connection[Any],
    rows: Sequence[tuple[Any, ...]],
    tsv: Sequence[bytes] | None = None,
) -> int:
    """Insert entries none of which exists: ``rows`` as ``storage.entry_row`` makes them.
    ``tsv``: each entry's search vector already computed (``storage.SEARCH_TSV`` in
    PostgreSQL's binary form, as side_tsv fetches it, in ``rows`` order): then one binary
    COPY straight into the table; otherwise through a temp table, the vectors computed by
    this insert.

    Binary, because a search vector's text form is half again as long and the server
    parses it back (Django: 52 MB of tsvector text, ~1.2 s of server CPU to read; the
    whole COPY of 44k entries 3.8-4.6 s in text, 2.0-2.7 s in binary)."""
    if not rows:
        return 0
    if tsv is not None:
        copy_sql = sql.SQL("COPY catalog_entries ({}, tsv) FROM STDIN WITH (FORMAT BINARY)")
        cursor = conn.cursor()
        cursor.adapters.register_dumper(_TsvectorMarker, _TsvectorVerbatim)
        cursor.adapters.register_dumper(_TextArrayMarker, _TextArrayVerbatim)
        cursor.adapters.register_dumper(_JsonbMarker, _JsonbVerbatim)
        at, meta = _KEYWORDS_AT, _METADATA_AT
        with cursor.copy(copy_sql.format(_ENTRY_NAMES)) as copy:
            copy.set_types(_BINARY_TYPES)
            for row, vector in zip(rows, tsv, strict=True):
                copy.write_row(
                    (*row[:at], _KEYWORDS_BINARY[row[at]], *row[at + 1 : meta],
                     _jsonb_binary(row[meta]), *row[meta + 1 : -3], vector)
                )  # fmt: skip
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


#: kind -> its value, looked up by a member or by its value (a StrEnum hashes as its str)
_KIND_VALUES: dict[RelationKind | str, str] = {kind: kind.value for kind in RelationKind}


def stage_edges(
    conn: psycopg.Connection[Any], edges: Iterable[tuple[str, RelationKind | str, str]]
) -> None:
    """Keep edges of entries just written until ``store_staged_edges``."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _catalog_rel_new (src text, kind text, dst text) "
        "ON COMMIT DROP"
    )
    with conn.cursor().copy("COPY _catalog_rel_new (src, kind, dst) FROM STDIN") as copy:
        value = _KIND_VALUES  # a dict lookup: ``.value`` is a Python-level descriptor
        for src, kind, dst in edges:
            if src != dst:
                copy.write_row((src, value[kind], dst))


def store_ready_edges(conn: psycopg.Connection[Any], edges: Sequence[tuple[str, str, str]]) -> int:
    """Store edges whose two entries are both written already, while the load goes on: no
    self-edge, none twice, none stored before (the caller's), so straight into the table;
    then refuse the whole write if one of them closed a cycle. Every cycle has an edge
    stored last, and its check sees the others: checked batch by batch, as at the end.

    Not all at the end: inserting Django's 115k edges (a foreign-key check of each end per
    row) and walking them for cycles kept one backend busy 3-6 s after everything else was
    done, the other core idle; batch by batch it runs beside the embedding and the search
    vectors."""
    if not edges:
        return 0
    with conn.cursor().copy("COPY catalog_relationships (src, kind, dst) FROM STDIN") as copy:
        for row in edges:
            copy.write_row(row)
    storage.refuse_cycles(conn, edges)
    return len(edges)


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


__all__ = [
    "copy_new_entries",
    "stage_edges",
    "store_ready_edges",
    "store_staged_edges",
]
