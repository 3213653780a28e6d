"""A cold load: the node entries of a repository none of whose nodes has an entry yet.

Streamed, so a large repository never sits in memory whole (Django: 44k entries, their
bodies, embedding texts and vectors took a sync from ~200 to ~730 MB, issue 12): the node
states are read in batches of ``COLD_BATCH``, each batch made into entries, prepared,
written and embedded, and only the ids that got an entry are kept. A batch is written
one iteration late: its texts are embedded by the worker pool and its search vectors
computed on side connections (side_tsv) while the next batch is read and prepared. An
edge between two nodes of the load is stored with the later of their two batches; any
other waits in a temp table until every entry is written.

What is stored is what the general path stores for the same states (tests compare the
two): rows do not depend on the batching, and vectors are written in the same order.
"""

from __future__ import annotations

import bisect
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from kgents_assets.catalog import bulk_write, side_tsv, storage
from kgents_assets.catalog.embedders.base import Embedder
from kgents_assets.catalog.embedders.pool import EmbeddingPool
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.catalog.nodes import DirectChildren, load_node_entries
from kgents_assets.hub.state_store import state_key

#: Node states per batch: big enough that per-statement costs vanish, small enough that a
#: batch's entries, texts and vectors stay a few MB.
COLD_BATCH = 2048
#: States from which the search vectors are computed on side connections (side_tsv):
#: opening them costs more than a small load's vectors.
SIDE_TSV_MIN = 1000
#: Texts per pool task (as the general path's bulk load submits them).
POOL_CHUNK = 512

Progress = Callable[[int, int], None]


#: Adds the time since a moment to a phase of the sync's report; returns now.
Timed = Callable[[str, float], float]


@dataclass
class _Embedding:
    """A written batch whose vectors are still to be written."""

    ids: list[str]
    hashes: list[str]
    texts: list[str]  # empty when the pool has them
    chunks: int  # pool tasks the batch was submitted as


@dataclass
class ColdLoadResult:
    written: set[str]  # ids that got an entry (and a vector)
    missing: list[str]  # ids without a state (nor an invalid one)
    embedded: int


def count_states(conn: psycopg.Connection[Any], node_ids: Sequence[str]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM kv WHERE key = ANY(%b)", ([state_key(i) for i in node_ids],)
    ).fetchone()
    return int(row[0]) if row else 0


class _VectorWriter:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        embedder: Embedder,
        pool: EmbeddingPool | None,
        batch_size: int,
    ) -> None:
        self._conn = conn
        self._embedder = embedder
        self._pool = pool
        self._batch_size = batch_size

    def start(self, prepared: Sequence[storage.PreparedEntry]) -> _Embedding:
        """Hand a batch's texts to the pool (if any) now."""
        texts = [p.text for p in prepared]
        chunks = 0
        if self._pool is not None:
            for at in range(0, len(texts), POOL_CHUNK):
                self._pool.submit(texts[at : at + POOL_CHUNK])
                chunks += 1
            texts = []
        return _Embedding([p.entry.id for p in prepared], [p.text_hash for p in prepared],
                          texts, chunks)  # fmt: skip

    def write(self, batch: _Embedding) -> int:
        if self._pool is not None:
            results = self._pool.results()
            vectors = [row for _ in range(batch.chunks) for row in next(results)]
        else:
            vectors = [
                row
                for at in range(0, len(batch.texts), self._batch_size)
                for row in self._embedder.embed(batch.texts[at : at + self._batch_size])
            ]
        if len(vectors) != len(batch.ids):
            raise RuntimeError(f"{len(vectors)} vectors for {len(batch.ids)} entries")
        return storage.copy_new_embeddings(
            self._conn, zip(batch.ids, batch.hashes, vectors, strict=True), self._embedder
        )


class _Edges:
    """Where each edge of the load goes: one between two of the load's nodes is stored
    when the later of its two batches is written (bulk_write.store_ready_edges); one whose
    target is not among them (another repository's entry, a fixture, nothing) is staged
    for the end (bulk_write.store_staged_edges)."""

    def __init__(self, node_ids: Sequence[str], batch: int) -> None:
        self._ids = node_ids  # sorted
        self._batch = batch
        self._ready: dict[int, set[tuple[str, str, str]]] = {}  # by batch index

    def add(self, index: int, entries: Sequence[CatalogEntry]) -> list[tuple[str, str, str]]:
        """Sort the edges of batch ``index``; returns those to stage."""
        ids, outside = self._ids, []
        for e in entries:
            for kind, dsts in e.relationships.items():
                value = kind.value
                for dst in dsts:
                    if dst == e.id:
                        continue
                    at = bisect.bisect_left(ids, dst)
                    if at < len(ids) and ids[at] == dst:
                        key = max(index, at // self._batch)
                        self._ready.setdefault(key, set()).add((e.id, value, dst))
                    else:
                        outside.append((e.id, value, dst))
        return outside

    def ready(self, index: int, written: set[str]) -> list[tuple[str, str, str]]:
        """Edges whose later batch is ``index``, now written, to an entry that exists (a
        node whose state is missing or invalid got none)."""
        return sorted(e for e in self._ready.pop(index, ()) if e[2] in written)


@dataclass
class _Batch:
    """A prepared batch waiting to be written."""

    index: int
    rows: list[tuple[Any, ...]]  # storage.entry_row of each entry
    outside: list[tuple[str, str, str]]  # edges to stage (see _Edges)
    tsv: side_tsv.Pending | None
    embedding: _Embedding


def _side(
    connect: Callable[[], psycopg.Connection[Any]] | None, total: int
) -> side_tsv.SideSearchVectors | contextlib.nullcontext[None]:
    if connect is None or total < SIDE_TSV_MIN:
        return contextlib.nullcontext()
    return side_tsv.SideSearchVectors(connect)


def load_new_nodes(
    conn: psycopg.Connection[Any],
    node_ids: Sequence[str],
    embedder: Embedder,
    pool: EmbeddingPool | None,
    *,
    invalid_states: list[str],
    timed: Timed,
    progress: Progress | None = None,
    batch_size: int = 256,
    batch: int = COLD_BATCH,
    connect: Callable[[], psycopg.Connection[Any]] | None = None,
) -> ColdLoadResult:
    """Write the entries, edges and vectors of ``node_ids`` (sorted; none has an entry, and
    the caller holds the catalog lock). The HNSW index is dropped first when rebuilding it
    is cheaper than maintaining it; the caller builds it after. ``connect``: opens side
    connections for the search vectors (see side_tsv), from ``SIDE_TSV_MIN`` states.

    Each batch is written one iteration late: while its search vectors (side connections)
    and its embeddings (pool) are computed, this process reads and prepares the next."""
    total = count_states(conn, node_ids)
    storage.drop_vector_index_for_bulk(conn, embedder.dimension, total)
    vectors = _VectorWriter(conn, embedder, pool, batch_size)
    edges = _Edges(node_ids, batch)
    written: set[str] = set()
    missing: list[str] = []
    embedded = 0
    step = time.perf_counter()
    # outlines of the load's classes and modules (see catalog.outline)
    children = DirectChildren(conn, node_ids)

    def write(b: _Batch) -> None:
        nonlocal step, embedded
        tsv = b.tsv.result() if b.tsv is not None else None
        bulk_write.copy_new_entries(conn, b.rows, tsv)
        bulk_write.stage_edges(conn, b.outside)
        bulk_write.store_ready_edges(conn, edges.ready(b.index, written))
        step = timed("write entries", step)
        embedded += vectors.write(b.embedding)
        if progress is not None:
            progress(min(embedded, total), total)
        step = timed("embed + write vectors", step)

    with _side(connect, total) as side:
        behind: _Batch | None = None
        for start in range(0, len(node_ids), batch):
            chunk = node_ids[start : start + batch]
            entries, absent = load_node_entries(conn, chunk, invalid_states, children)
            missing += absent
            step = timed("read states", step)
            prepared = [storage.prepare_entry(e) for e in entries]
            rows = [storage.entry_row(p) for p in prepared]
            next_batch = _Batch(
                start // batch, rows, edges.add(start // batch, entries),
                side.submit([r[-3:] for r in rows]) if side is not None else None,
                vectors.start(prepared),
            )  # fmt: skip
            written.update(e.id for e in entries)
            del entries, prepared
            step = timed("prepare entries", step)
            if behind is not None:
                write(behind)
            behind = next_batch
        if behind is not None:
            write(behind)
    bulk_write.store_staged_edges(conn)
    timed("write entries", step)
    return ColdLoadResult(written, missing, embedded)


__all__ = ["COLD_BATCH", "ColdLoadResult", "Timed", "count_states", "load_new_nodes"]
