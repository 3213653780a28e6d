"""A cold load's COPYs with text that needs escaping: vectors encoded by
storage.copy_new_embeddings itself (stored as pgvector's own binary COPY stores them),
entries whose search vectors were computed elsewhere, edges between odd ids.

Entries and edges stay with psycopg's ``write_row``: its C implementation (psycopg_binary)
measured faster than encoding the rows as COPY text in Python (16k Django entries: 0.71 s
against 0.87 s of CPU; 115k edges: 0.15 s against 0.29 s); cProfile had made it look ~10x
costlier than it is."""

from __future__ import annotations

from typing import Any

import numpy as np
from pgvector import Vector
from psycopg.types.json import Jsonb

from kgents_assets.catalog import bulk_write, side_tsv, storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.models import CatalogEntry, EntityType, RelationKind
from kgents_assets.store import Store
from tests.copy_samples import TRICKY_TEXTS

TRICKY = [t for t in TRICKY_TEXTS if t]  # an entry's name cannot be empty
_TYPES = {"keywords": "text[]", "metadata": "jsonb"}


def entries() -> list[CatalogEntry]:
    out = []
    for n, text in enumerate(TRICKY):
        out.append(
            CatalogEntry(
                id=f"pkg:{n}\\x{'é' if n % 2 else ''}",
                entity_type=EntityType.FUNCTION if n % 2 else EntityType.TEST,
                name=f"parseConfig_{n} {text}",
                description=f"does {text}",
                keywords=(TRICKY[:n] if n % 3 else ()),
                origin="node",
                author=None if n % 2 else text,
                node_id=f"pkg:{n}",
                repo="pkg",
                path=None if n == 2 else f"pkg/{text}.py",
                body=f"def f_{n}():\n\treturn '{text}'  # HTTPServer v2 \\ \"q\"",
                deprecation_reason=text if n == 4 else None,
                metadata={
                    "qualname": text,
                    "start_line": n,
                    "ratio": 1 / (n + 3),
                    "nested": {"list": [text, None, True, 1.5e-7]},
                    "none": None,
                },
            )
        )
    return out


def _catalog(store: Store) -> list[tuple[Any, ...]]:
    with store.connect() as conn:
        return conn.execute(
            "SELECT e::text FROM (SELECT id, entity_type, name, version, description, keywords, "
            "status, origin, author, node_id, path, body, deprecation_reason, metadata, "
            "text_hash, fingerprint, repo, tsv FROM catalog_entries ORDER BY id) e"
        ).fetchall()


def test_entries_with_search_vectors_computed_elsewhere_are_stored_alike(
    fresh_store: Any,
) -> None:
    """The side connections' vectors (binary tsvectors, as side_tsv fetches them) go in a
    binary COPY with the entry columns, keywords and metadata included."""
    prepared = [storage.prepare_entry(e) for e in entries()]
    rows = [storage.entry_row(p) for p in prepared]
    with_tsv, computed = fresh_store(), fresh_store()
    with with_tsv.transaction() as conn:
        tsv = side_tsv.SideSearchVectors(with_tsv.connect)
        with tsv:
            vectors = tsv.submit([r[-3:] for r in rows]).result()
        assert vectors is not None and all(isinstance(v, bytes) for v in vectors)
        assert bulk_write.copy_new_entries(conn, rows, vectors) == len(rows)
    with computed.transaction() as conn:
        assert bulk_write.copy_new_entries(conn, rows) == len(rows)
    ours = _catalog(with_tsv)
    assert len(ours) == len(TRICKY)
    assert ours == _catalog(computed)
    # keywords and metadata as psycopg's own list and Jsonb adaptation store them
    with with_tsv.connect() as conn:
        stored = conn.execute(
            "SELECT keywords::text, metadata::text FROM catalog_entries ORDER BY id"
        ).fetchall()
        expected = [
            conn.execute(
                "SELECT %s::text[]::text, %s::jsonb::text", (list(e.keywords), Jsonb(e.metadata))
            ).fetchone()
            for e in sorted(entries(), key=lambda e: e.id)
        ]
    assert any(len(e.keywords) > 3 for e in entries())
    assert stored == expected


def test_keyword_literals_read_back_element_for_element(store: Store) -> None:
    samples = [(), ("",), ("null",), ("NULL", "a b", "c,d"), tuple(TRICKY), ("\\", '"', "{}")]
    with store.connect() as conn:
        for keywords in samples:
            literal = storage.text_array_literal(keywords)
            assert conn.execute("SELECT %s::text[]", (literal,)).fetchone() == (list(keywords),)


def test_staged_edges_with_escapes_are_stored(store: Store) -> None:
    ids = [e.id for e in entries()]
    with store.transaction() as conn:
        bulk_write.copy_new_entries(
            conn, [storage.entry_row(storage.prepare_entry(e)) for e in entries()]
        )
        bulk_write.stage_edges(conn, [(ids[0], RelationKind.TESTED_BY, d) for d in ids[1:]])
        bulk_write.stage_edges(conn, [(ids[1], RelationKind.DEPENDS_ON, ids[2])])
        assert bulk_write.store_staged_edges(conn) == len(ids)
    with store.connect() as conn:
        assert conn.execute(
            "SELECT src, kind, dst FROM catalog_relationships ORDER BY 1, 2, 3"
        ).fetchall() == sorted(
            [(ids[0], "tested_by", d) for d in ids[1:]] + [(ids[1], "depends_on", ids[2])]
        )


def test_vectors_are_stored_as_pgvectors_own_binary_copy_stores_them(store: Store) -> None:
    embedder = HashingEmbedder(dimension=16)
    rng = np.random.default_rng(7)
    vectors = [
        rng.standard_normal(16).astype(np.float32),
        rng.standard_normal(16),  # float64: rounded to float32 as the general path does
        np.array([0.0, -0.0, 1e-45, 3.4e38, -1.5, 1 / 3] + [0.25] * 10, dtype=np.float64),
    ]
    ids = ["pkg:a", "pkg:é\\t", "pkg:" + "x" * 290]
    with store.transaction() as conn:
        storage.prepare(conn)
        storage.upsert_entries(
            conn,
            [CatalogEntry(id=i, entity_type=EntityType.FUNCTION, name=i, description=i)
             for i in ids],
        )  # fmt: skip
        written = storage.copy_new_embeddings(
            conn, zip(ids, ["h1", "h2", "h3"], vectors, strict=True), embedder
        )
        assert written == 3
        ours = conn.execute(
            "SELECT entry_id, embedder, dim, text_hash, embedding::text FROM catalog_embeddings "
            "ORDER BY entry_id"
        ).fetchall()
        conn.execute("DELETE FROM catalog_embeddings")
        with conn.cursor().copy(
            "COPY catalog_embeddings (entry_id, embedder, dim, text_hash, embedding) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "int4", "text", "vector"])
            for entry_id, hashed, vector in zip(ids, ["h1", "h2", "h3"], vectors, strict=True):
                copy.write_row(
                    (entry_id, embedder.id, 16, hashed,
                     Vector(np.ascontiguousarray(vector, dtype=np.float32)))
                )  # fmt: skip
        theirs = conn.execute(
            "SELECT entry_id, embedder, dim, text_hash, embedding::text FROM catalog_embeddings "
            "ORDER BY entry_id"
        ).fetchall()
        assert storage.copy_new_embeddings(conn, iter(()), embedder) == 0
    assert len(ours) == 3 and ours == theirs
