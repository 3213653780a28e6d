"""A cold load: the node entries of a repository none of whose nodes has an entry yet.

Streamed, so a large repository never sits in memory whole (Django: 44k entries, their
bodies, embedding texts and vectors took a sync from ~200 to ~730 MB, issue 12): the node
states are read in batches of ``COLD_BATCH``, each batch made into entries, prepared,
written and embedded, and only the ids that got an entry are kept. With a worker pool, a
batch's texts are embedded while the next batch is read and written; its vectors are
written after that (one batch behind). Edges wait in a temp table until every entry is
written, since an edge may point at an entry of a later batch.

What is stored is what the general path stores for the same states (tests compare the
two): rows do not depend on the batching, and vectors are written in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from kgents_assets.catalog import bulk_write, storage
from kgents_assets.catalog.embedders.base import Embedder
from kgents_assets.catalog.embedders.pool import EmbeddingPool
from kgents_assets.catalog.nodes import load_node_entries
from kgents_assets.hub.state_store import state_key

#: Node states per batch: big enough that per-statement costs vanish, small enough that a
#: batch's entries, texts and vectors stay a few MB.
COLD_BATCH = 2048
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
        "SELECT count(*) FROM kv WHERE key = ANY(%s)", ([state_key(i) for i in node_ids],)
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
) -> ColdLoadResult:
    """Write the entries, edges and vectors of ``node_ids`` (sorted; none has an entry, and
    the caller holds the catalog lock). The HNSW index is dropped first when rebuilding it
    is cheaper than maintaining it; the caller builds it after."""
    total = count_states(conn, node_ids)
    storage.drop_vector_index_for_bulk(conn, embedder.dimension, total)
    vectors = _VectorWriter(conn, embedder, pool, batch_size)
    written: set[str] = set()
    missing: list[str] = []
    behind: _Embedding | None = None
    embedded = 0
    step = time.perf_counter()
    for start in range(0, len(node_ids), batch):
        entries, absent = load_node_entries(conn, node_ids[start : start + batch], invalid_states)
        missing += absent
        step = timed("read states", step)
        prepared = [storage.prepare_entry(e) for e in entries]
        del entries
        pending = vectors.start(prepared)
        step = timed("prepare entries", step)
        bulk_write.copy_new_entries(conn, prepared)
        bulk_write.stage_edges(
            conn,
            ((p.entry.id, kind, dst) for p in prepared
             for kind, dsts in p.entry.relationships.items() for dst in dsts),
        )  # fmt: skip
        written.update(pending.ids)
        del prepared
        step = timed("write entries", step)
        if behind is not None:
            embedded += vectors.write(behind)
        if pool is None:
            embedded += vectors.write(pending)
            behind = None
        else:
            behind = pending
        if progress is not None:
            progress(min(embedded, total), total)
        step = timed("embed + write vectors", step)
    if behind is not None:
        embedded += vectors.write(behind)
        if progress is not None:
            progress(min(embedded, total), total)
        step = timed("embed + write vectors", step)
    bulk_write.store_staged_edges(conn)
    timed("write entries", step)
    return ColdLoadResult(written, missing, embedded)


__all__ = ["COLD_BATCH", "ColdLoadResult", "Timed", "count_states", "load_new_nodes"]
