"""One partition of ``catalog_embeddings`` per repository (migration 0102), each with its own
HNSW index per dimension.

A repository's bulk load does not write into its live partition: it builds a new table off
to the side (the vectors it keeps, then the new ones by COPY, then the indexes with the
parallel build settings) and swaps it in at the end of the transaction (``swap``: detach
and drop the old partition, attach the new one). Attaching takes only a SHARE UPDATE
EXCLUSIVE lock on the parent, which searches do not wait for, and adopts the table's
indexes as partitions of the parent's instead of building them again; no other
repository's partition or index is touched. Replacing an existing partition detaches it,
which locks the parent exclusively until commit: callers swap last, right before commit.

The price is paid by cross-repository search: it merges one HNSW scan per partition
(bench/catalog_partition_bench.py, 100k vectors, ef_search 100, loaded machine: one table
12 ms p50; 2 partitions 16 ms; 11 partitions 31 ms; 51 partitions 548 ms, where the planner
gives up on the index scans for a parallel sequential scan and sort). Open: keeping the
partition count low (e.g. repositories under BULK_REBUILD_MIN vectors, which never bulk
load, sharing one partition).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import psycopg
from psycopg import sql

from kgents_assets.catalog.embedders.base import Embedder, Vectors
from kgents_assets.catalog.errors import EmbedderMismatch

PARENT = "catalog_embeddings"
#: repo_key of the entries of no repository (fixtures, registered)
NO_REPO = ""
HNSW_INDEX_PREFIX = "catalog_embeddings_hnsw_"
#: (entry id, text hash, vector) rows a bulk load writes
VectorRow = tuple[str, str, Vectors]


class SideTable(NamedTuple):
    """A partition being built for ``key``, to replace ``old`` (None: the first one)."""

    key: str
    name: str
    old: str | None


def repo_key(repo: str | None) -> str:
    return repo if repo is not None else NO_REPO


def _prefix(key: str) -> str:
    # md5 as PostgreSQL computes it over the same UTF-8 text (the migration names them so)
    return f"{PARENT}_{hashlib.md5(key.encode()).hexdigest()[:16]}_"


def partition_of(conn: psycopg.Connection[Any], key: str) -> str | None:
    """The attached partition holding ``key``'s vectors, if there is one."""
    row = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass AND starts_with(c.relname, %s)",
        (PARENT, _prefix(key)),
    ).fetchone()
    return str(row[0]) if row else None


def partitions(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(repo_key, partition table) of every attached partition, by key."""
    rows = conn.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (PARENT,),
    ).fetchall()
    return sorted((key, str(name)) for name, bound in rows for key in _keys_of(bound))


def _keys_of(bound: str) -> list[str]:
    # "FOR VALUES IN ('x')": the one literal, quotes doubled inside it
    inner = bound.partition("(")[2].rpartition(")")[0].strip()
    return [inner[1:-1].replace("''", "'")] if inner.startswith("'") else []


def _new_name(conn: psycopg.Connection[Any], key: str) -> str:
    # the transaction id keeps it apart from the partition it replaces (same prefix)
    row = conn.execute("SELECT txid_current()").fetchone()
    return f"{_prefix(key)}{row[0] if row else 0}"


def hnsw_dims(conn: psycopg.Connection[Any]) -> list[int]:
    """Dimensions the parent has an HNSW (partitioned) index for."""
    rows = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = %s AND starts_with(indexname, %s)",
        (PARENT, HNSW_INDEX_PREFIX),
    ).fetchall()
    return sorted(int(r[0].removeprefix(HNSW_INDEX_PREFIX)) for r in rows)


def _create_like_parent(conn: psycopg.Connection[Any], name: str) -> None:
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
            sql.Identifier(name), sql.Identifier(PARENT)
        )
    )


def _attach(conn: psycopg.Connection[Any], name: str, key: str) -> None:
    conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
            sql.Identifier(PARENT), sql.Identifier(name), sql.Literal(key)
        )
    )


def ensure_partition(conn: psycopg.Connection[Any], key: str, m: int, ef_construction: int) -> str:
    """``key``'s partition, created empty (its indexes with it) when it has none."""
    name = partition_of(conn, key)
    if name is not None:
        return name
    side = start_build(conn, key, ())
    finish_build(conn, side, hnsw_dims(conn), m, ef_construction, "64MB")
    swap(conn, side)
    return side.name


def partition_rows(conn: psycopg.Connection[Any], key: str) -> int:
    name = partition_of(conn, key)
    if name is None:
        return 0
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()
    return int(row[0]) if row else 0


def start_build(conn: psycopg.Connection[Any], key: str, replaced: Sequence[str]) -> SideTable:
    """A new table for ``key``'s partition holding the live partition's vectors except those
    of ``replaced`` (the caller writes theirs with ``copy_vectors``)."""
    old = partition_of(conn, key)
    name = _new_name(conn, key)
    _create_like_parent(conn, name)
    if old is not None:
        conn.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE entry_id <> ALL(%s)").format(
                sql.Identifier(name), sql.Identifier(old)
            ),
            (list(replaced),),
        )
    return SideTable(key, name, old)


def copy_vectors(
    conn: psycopg.Connection[Any],
    table: str,
    key: str,
    rows: Iterable[VectorRow],
    embedder: Embedder,
) -> int:
    """One binary COPY of ``rows`` into ``table`` (the parent or a partition: rows that
    have no vector yet, so there is nothing to upsert). ``rows`` may be a generator:
    vectors are written as they are computed."""
    written = 0
    with conn.cursor().copy(
        sql.SQL(
            "COPY {} (entry_id, repo_key, embedder, dim, text_hash, embedding) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ).format(sql.Identifier(table))
    ) as copy:
        copy.set_types(["text", "text", "text", "int4", "text", "vector"])
        for entry_id, hashed, vector in rows:
            if vector.shape != (embedder.dimension,):
                raise EmbedderMismatch(
                    f"embedder {embedder.id} returned a vector of shape {vector.shape}, "
                    f"expected ({embedder.dimension},)"
                )
            copy.write_row(
                (entry_id, key, embedder.id, embedder.dimension, hashed,
                 np.ascontiguousarray(vector, dtype=np.float32))
            )  # fmt: skip
            written += 1
    return written


def hnsw_index_sql(table: str, index: str, dim: int, m: int, ef_construction: int) -> sql.Composed:
    return sql.SQL(
        "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw "
        "((embedding::vector({})) vector_cosine_ops) WITH (m = {}, ef_construction = {}) "
        "WHERE dim = {}"
    ).format(
        sql.Identifier(index),
        sql.Identifier(table),
        sql.Literal(dim),
        sql.Literal(m),
        sql.Literal(ef_construction),
        sql.Literal(dim),
    )


def finish_build(
    conn: psycopg.Connection[Any],
    side: SideTable,
    dims: Iterable[int],
    m: int,
    ef_construction: int,
    build_memory: str,
) -> None:
    """The side table's indexes, one per index of the parent (so attaching adopts them
    instead of building them), HNSW for each of ``dims``, and its planner statistics."""
    name = side.name
    conn.execute(
        sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (entry_id, repo_key)").format(sql.Identifier(name))
    )
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} (embedder)").format(
            sql.Identifier(f"{name}_embedder"), sql.Identifier(name)
        )
    )
    with build_settings(conn, build_memory):
        for dim in sorted(set(dims)):
            conn.execute(hnsw_index_sql(name, f"{name}_hnsw_{dim}", dim, m, ef_construction))
    conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))


def swap(conn: psycopg.Connection[Any], side: SideTable) -> None:
    """Put ``side`` in place of ``key``'s partition (see the module's note on locks)."""
    if side.old is not None:
        conn.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                sql.Identifier(PARENT), sql.Identifier(side.old)
            )
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(side.old)))
    _attach(conn, side.name, side.key)


def drop_partition(conn: psycopg.Connection[Any], repo: str) -> bool:
    """Drop ``repo``'s partition with its vectors (removing a repository): no row by row
    delete. True when there was one."""
    name = partition_of(conn, repo_key(repo))
    if name is None:
        return False
    conn.execute(
        sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
            sql.Identifier(PARENT), sql.Identifier(name)
        )
    )
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    return True


@contextmanager
def build_settings(conn: psycopg.Connection[Any], memory: str) -> Iterator[None]:
    """Settings for an index build in this transaction, put back after.

    The graph is built in memory when it fits (44k 512-d vectors: ~120 MB); past the limit
    pgvector falls back to a much slower on-disk build (an upper bound, not an
    allocation). pgvector (0.6+) builds HNSW with parallel workers, but PostgreSQL plans
    none for a heap under min_parallel_table_scan_size, and 44k vectors live in TOAST,
    leaving a heap of ~7 MB: without it the build runs on one core (8k vectors, loaded
    machine: 82 s alone, 33 s with the workers)."""
    conn.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(memory)))
    conn.execute("SET LOCAL min_parallel_table_scan_size = 0")
    yield
    conn.execute("SET LOCAL min_parallel_table_scan_size TO DEFAULT")
    conn.execute("SET LOCAL maintenance_work_mem TO DEFAULT")


def vector_estimate(conn: psycopg.Connection[Any], key: str | None = None) -> float:
    """The planner's count of vectors in ``key``'s partition, or in all of them."""
    prefix = _prefix(key) if key is not None else f"{PARENT}_"
    row = conn.execute(
        "SELECT sum(greatest(c.reltuples, 0)) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass AND starts_with(c.relname, %s)",
        (PARENT, prefix),
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0
