"""What a cold catalog load costs in PostgreSQL, and how to write it (issue 12).

    uv run python bench/catalog_load_bench.py [--entries 44000] [--maintained 8000]

The README's command on Django writes ~44k catalog entries and their vectors. This
benchmark loads the same kind of data (every function and class of Django 5.2, embedded
by the default hashing embedder) into a scratch pgserver database, each way in a fresh
database and its own transaction, all wall clock:

- vectors, today's way: batches of 256 (COPY into a temp table, one INSERT), the HNSW
  index created after the first batch and then maintained by every later insert
  (``--maintained`` entries; the rate is what matters, the full load is extrapolated);
- vectors, bulk: one binary COPY of all vectors, then CREATE INDEX with
  ``maintenance_work_mem`` 1 GB, with and without parallel maintenance workers, and with
  the default 64 MB for comparison;
- entries: the tsvector GIN index maintained during the load vs built after it;
- the baseline: embedding the texts alone (no database).

Exits non-zero when a load does not leave exactly one vector per entry, or the index the
search path needs is missing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pgserver
import psycopg
from pgvector.psycopg import register_vector

sys.path.insert(0, str(Path(__file__).parent))
from _baseline import BenchFailure
from _corpus import fetch_sdist, python_definitions

from kgents_assets.catalog.embedders.registry import build_embedder
from kgents_assets.catalog.text import expand_identifiers

BATCH = 256  # kgents_assets.catalog.sync.EMBED_BATCH at 0d19b00
M = 16  # kgents_assets.catalog.storage's HNSW parameters (ef_construction: --ef-construction)
EF_CONSTRUCTION = 128

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE catalog_entries (
    id text PRIMARY KEY, name text NOT NULL, body text NOT NULL, tsv tsvector NOT NULL);
CREATE TABLE catalog_embeddings (
    entry_id text PRIMARY KEY REFERENCES catalog_entries (id) ON DELETE CASCADE,
    embedder text NOT NULL, dim integer NOT NULL, text_hash text NOT NULL,
    embedding vector NOT NULL CHECK (vector_dims(embedding) = dim),
    embedded_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX catalog_embeddings_embedder ON catalog_embeddings (embedder);
"""
GIN = "CREATE INDEX catalog_entries_tsv ON catalog_entries USING gin (tsv)"


def hnsw(dim: int) -> str:
    # EF_CONSTRUCTION is set from --ef-construction in main() before any index is built
    return (
        f"CREATE INDEX catalog_embeddings_hnsw_{dim} ON catalog_embeddings USING hnsw "
        f"((embedding::vector({dim})) vector_cosine_ops) "
        f"WITH (m = {M}, ef_construction = {EF_CONSTRUCTION}) WHERE dim = {dim}"
    )


def django_texts(n: int) -> list[tuple[str, str]]:
    """(name, source) of Django's functions and classes, cycled up to ``n``."""
    root = fetch_sdist("django", "5.2")
    out: list[tuple[str, str]] = []
    for path, lines, node in python_definitions(root):
        body = "\n".join(lines[node.lineno - 1 : node.end_lineno])[:4000]
        out.append((f"{path.name}:{node.name}", body))
    return [out[i % len(out)] for i in range(n)]


class Scratch:
    def __init__(self, server_url: str) -> None:
        self.server_url = server_url

    def database(self) -> str:
        name = f"load_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, query = self.server_url.partition("?")
        url = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
        return url


def copy_entries(conn: psycopg.Connection, texts: list[tuple[str, str]], ids: list[str]) -> None:  # type: ignore[type-arg]
    conn.execute(
        "CREATE TEMP TABLE _in (id text, name text, body text, a text, c text) ON COMMIT DROP"
    )
    with conn.cursor().copy("COPY _in FROM STDIN") as copy:
        for i, (name, body) in zip(ids, texts, strict=True):
            copy.write_row((i, name, body, expand_identifiers(name), expand_identifiers(body)))
    conn.execute(
        "INSERT INTO catalog_entries (id, name, body, tsv) SELECT id, name, body, "
        "setweight(to_tsvector('english', a), 'A') || setweight(to_tsvector('english', c), 'C') "
        "FROM _in"
    )


def copy_vectors(
    conn: psycopg.Connection,  # type: ignore[type-arg]
    ids: list[str],
    vectors: np.ndarray,
    via_temp: bool,
) -> None:
    dim = vectors.shape[1]
    table = "_vin" if via_temp else "catalog_embeddings"
    if via_temp:
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS _vin (entry_id text, embedder text, dim int, "
            "text_hash text, embedding vector) ON COMMIT DROP"
        )
        conn.execute("TRUNCATE _vin")
    with conn.cursor().copy(
        f"COPY {table} (entry_id, embedder, dim, text_hash, embedding) "
        "FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "text", "int4", "text", "vector"])
        for i, v in zip(ids, vectors, strict=True):
            copy.write_row((i, "hashing", dim, "h", v))
    if via_temp:
        conn.execute(
            "INSERT INTO catalog_embeddings (entry_id, embedder, dim, text_hash, embedding) "
            "SELECT * FROM _vin ON CONFLICT (entry_id) DO UPDATE SET "
            "embedding = EXCLUDED.embedding, embedded_at = now()"
        )


def check(url: str, n: int, dim: int) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM catalog_embeddings), to_regclass(%s) IS NOT NULL",
            (f"catalog_embeddings_hnsw_{dim}",),
        ).fetchone()
    if row is None or row[0] != n or not row[1]:
        raise BenchFailure(f"after the load: {row} (expected {n} vectors and the HNSW index)")


def timed(url: str, work: Callable[[psycopg.Connection], None]) -> float:  # type: ignore[type-arg]
    with psycopg.connect(url) as conn:
        register_vector(conn)
        started = time.perf_counter()
        with conn.transaction():
            work(conn)
        return time.perf_counter() - started


def load_entries_and_maintained(
    scratch: Scratch,
    texts: list[tuple[str, str]],
    ids: list[str],
    vectors: np.ndarray,
    n_maint: int,
    rows: list[tuple[str, int, float]],
) -> None:
    """Entries with the GIN index maintained vs built after; vectors the 0d19b00 way."""
    n, dim = len(ids), vectors.shape[1]
    url = scratch.database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(GIN)
    t = timed(url, lambda c: copy_entries(c, texts, ids))
    rows.append(("entries + tsvector, GIN maintained during the load", n, t))
    url_entries = scratch.database()

    def entries_then_gin(c: psycopg.Connection) -> None:  # type: ignore[type-arg]
        copy_entries(c, texts, ids)
        c.execute("SET LOCAL maintenance_work_mem = '1GB'")
        c.execute(GIN)

    t = timed(url_entries, entries_then_gin)
    rows.append(("entries + tsvector, GIN built after the load", n, t))
    print(f"  entries done ({t:.1f} s)", flush=True)

    # vectors: today's way, the index maintained after the first batch
    def maintained(c: psycopg.Connection) -> None:  # type: ignore[type-arg]
        for s in range(0, n_maint, BATCH):
            e = min(s + BATCH, n_maint)
            copy_vectors(c, ids[s:e], vectors[s:e], via_temp=True)
            if s == 0:
                c.execute("SET LOCAL maintenance_work_mem = '256MB'")
                c.execute(hnsw(dim))

    url = scratch.database()
    timed(url, lambda c: copy_entries(c, texts, ids))
    t = timed(url, maintained)
    check(url, n_maint, dim)
    rows.append((f"vectors, batches of {BATCH}, HNSW maintained (today)", n_maint, t))
    print(f"  maintained done ({t:.1f} s for {n_maint:,})", flush=True)


def main() -> None:
    global EF_CONSTRUCTION
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=44_000)
    parser.add_argument("--maintained", type=int, default=8_000)
    parser.add_argument("--ef-construction", type=int, default=128)
    parser.add_argument(
        "--bulk-only", action="store_true", help="only the one-COPY loads (1 GB, 0 workers)"
    )
    args = parser.parse_args()
    EF_CONSTRUCTION = args.ef_construction
    n, n_maint = args.entries, min(args.maintained, args.entries)

    texts = django_texts(n)
    ids = [f"e{i}" for i in range(n)]
    embedder = build_embedder("hashing")
    started = time.perf_counter()
    vectors = np.vstack(
        [embedder.embed([f"{a}\n{b}" for a, b in texts[i : i + 2048]]) for i in range(0, n, 2048)]
    ).astype(np.float32)
    embed_s = time.perf_counter() - started
    dim = vectors.shape[1]
    rows: list[tuple[str, int, float]] = [("embedding alone (hashing, no database)", n, embed_s)]

    with tempfile.TemporaryDirectory() as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        scratch = Scratch(str(pg.get_uri()))
        print(f"{n:,} Django functions and classes, {dim}-d hashing vectors; PostgreSQL "
              f"{psycopg.connect(scratch.server_url).info.server_version}", flush=True)  # fmt: skip

        print(f"  HNSW m={M}, ef_construction={EF_CONSTRUCTION}", flush=True)
        if not args.bulk_only:
            load_entries_and_maintained(scratch, texts, ids, vectors, n_maint, rows)
        variants = [("vectors, one COPY, HNSW after, 1 GB, 0 workers", "1GB", 0)]
        if not args.bulk_only:
            variants += [
                ("vectors, one COPY, HNSW after, 1 GB, 1 worker", "1GB", 1),
                ("vectors, one COPY, HNSW after, 64 MB, 0 workers", "64MB", 0),
            ]
        for label, mwm, workers in variants:
            url = scratch.database()
            timed(url, lambda c: copy_entries(c, texts, ids))

            def bulk(c: psycopg.Connection, mwm: str = mwm, workers: int = workers) -> None:  # type: ignore[type-arg]
                copy_vectors(c, ids, vectors, via_temp=False)
                c.execute(f"SET LOCAL maintenance_work_mem = '{mwm}'")
                c.execute(f"SET LOCAL max_parallel_maintenance_workers = {workers}")
                c.execute(hnsw(dim))

            t = timed(url, bulk)
            check(url, n, dim)
            rows.append((label, n, t))
            print(f"  {label}: {t:.1f} s", flush=True)

    print(f"\n  {'load':<56}{'rows':>8}{'wall s':>9}{'rows/s':>9}{'for 44k s':>11}")
    for label, count, seconds in rows:
        print(f"  {label:<56}{count:>8,}{seconds:>9.1f}{count / seconds:>9,.0f}"
              f"{44_000 / count * seconds:>11.1f}")  # fmt: skip
    print("  ('for 44k' scales the maintained load linearly; an HNSW insert gets slower as the "
          "graph grows, so that figure is a lower bound)")  # fmt: skip


if __name__ == "__main__":
    main()
