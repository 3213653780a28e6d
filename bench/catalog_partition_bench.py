"""Vector search over per-repository partitions vs one table, and ef_construction 64 vs 128
(issue 12), at the SQL level, in one run.

    uv run python bench/catalog_partition_bench.py [--entries 100000] [--queries 300]

The same real functions from site-packages (catalog_bench.py's corpus), embedded by the
default hashing embedder (512-d), are stored:

- in one table with one HNSW expression index, ef_construction 128 (the layout before
  migration 0102) and again with ef_construction 64;
- in a table LIST-partitioned by repository (the layout of migration 0102): one large
  repository holding 3/4 of the vectors and 50 small ones sharing the rest, each
  partition with its own HNSW index; searched with 0, 10 and 50 of the small partitions
  attached (detaching and attaching adopts the built indexes).

For each: the HNSW statement ``kg library discover`` runs (cross-repository: every
partition's index scan merged; one repository: pruned to its partition), p50/p95 of
per-query wall ms on a warm prepared connection at ef_search 100, and recall@10 against
exact search over the same vectors (ties count: real code has identical functions). The
plan of each cross-repository statement is checked: an index scan per partition, no
sequential scan. Exits non-zero when a plan is not that, or when recall at ef_search 100
of the layout kept falls below 0.95. Load average printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pgserver
import psycopg
from pgvector.psycopg import register_vector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_bench import site_packages_functions

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import build_embedder

DIM = 512
SMALL = 50
EF_SEARCH = 100


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def hnsw(table: str, index: str, ef_construction: int) -> str:
    return (
        f"CREATE INDEX {index} ON {table} USING hnsw ((embedding::vector({DIM})) "
        f"vector_cosine_ops) WITH (m = 16, ef_construction = {ef_construction}) "
        f"WHERE dim = {DIM}"
    )


def timed(conn: psycopg.Connection[Any], statement: str) -> float:
    t0 = time.perf_counter()
    conn.execute(statement)
    return time.perf_counter() - t0


def copy_rows(conn: psycopg.Connection[Any], table: str, rows: list[tuple[Any, ...]]) -> None:
    partitioned = len(rows[0]) == 4
    cols = "entry_id, repo_key, dim, embedding" if partitioned else "entry_id, dim, embedding"
    with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(
            ["text", "text", "int4", "vector"] if partitioned else ["text", "int4", "vector"]
        )
        for row in rows:
            copy.write_row(row)


def search(
    conn: psycopg.Connection[Any], table: str, queries: np.ndarray, repo: str | None = None
) -> tuple[list[float], list[list[int]]]:
    where = f"dim = {DIM}" + (" AND repo_key = %(r)s" if repo else "")
    statement = (
        f"SELECT entry_id FROM {table} WHERE {where} "
        f"ORDER BY embedding::vector({DIM}) <=> %(q)s::vector({DIM}) LIMIT 10"
    )
    ms, ids = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows = conn.execute(statement, {"q": q, "r": repo}, prepare=True).fetchall()
        ms.append((time.perf_counter() - t0) * 1000)
        ids.append([int(r[0]) for r in rows])
    return ms, ids


def plan(conn: psycopg.Connection[Any], table: str, q: np.ndarray) -> str:
    return "\n".join(
        r[0]
        for r in conn.execute(
            f"EXPLAIN SELECT entry_id FROM {table} WHERE dim = {DIM} "
            f"ORDER BY embedding::vector({DIM}) <=> %s::vector({DIM}) LIMIT 10",
            (q,),
        )
    )


def recall(ids: list[list[int]], queries: np.ndarray, base: np.ndarray, rows: np.ndarray) -> float:
    """recall@10 with ties: a hit counts when as close as the 10th exact neighbour."""
    sims = queries @ base[rows].T
    tenth = np.sort(sims, axis=1)[:, -10]
    return float(
        statistics.mean(
            sum(1 for i in hit if float(base[i] @ q) >= t - 1e-5) / 10
            for hit, q, t in zip(ids, queries, tenth, strict=True)
        )
    )


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    failures: list[str] = []
    t0 = time.perf_counter()
    entries, questions = site_packages_functions(args.entries)
    embedder = build_embedder("hashing")
    base = np.vstack(
        [
            embedder.embed([storage.embedding_text(e) for e in entries[i : i + 5000]])
            for i in range(0, len(entries), 5000)
        ]
    ).astype(np.float32)
    n = len(base)
    rng = np.random.default_rng(7)
    names = [questions[int(i)] for i in rng.choice(len(questions), args.queries, replace=False)]
    queries = embedder.embed(names).astype(np.float32)
    large = n * 3 // 4
    bounds = np.linspace(large, n, SMALL + 1).astype(int)
    repo_of = np.empty(n, dtype=object)
    repo_of[:large] = "large"
    for s in range(SMALL):
        repo_of[bounds[s] : bounds[s + 1]] = f"small{s:02d}"
    print(f"{n:,} functions from site-packages, hashing {DIM}-d, {len(queries)} queries; "
          f"corpus + embedding {time.perf_counter() - t0:.0f} s; load {load()}", flush=True)  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        conn = psycopg.connect(str(pg.get_uri()), autocommit=True)
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET min_parallel_table_scan_size = 0")
        flat_rows = [(str(i), DIM, base[i]) for i in range(n)]
        builds: dict[str, float] = {}
        for ef_c in (128, 64):
            table = f"flat{ef_c}"
            conn.execute(f"CREATE TABLE {table} (entry_id text, dim int, embedding vector)")
            copy_rows(conn, table, flat_rows)
            builds[table] = timed(conn, hnsw(table, f"{table}_hnsw", ef_c))
            conn.execute(f"ANALYZE {table}")
            print(f"  one table, ef_construction {ef_c}: HNSW build {builds[table]:.1f} s "
                  f"(load {load()})", flush=True)  # fmt: skip

        conn.execute(
            "CREATE TABLE part (entry_id text NOT NULL, repo_key text NOT NULL, dim int, "
            "embedding vector) PARTITION BY LIST (repo_key)"
        )
        conn.execute(hnsw("part", "part_hnsw", 128))
        part_build = 0.0
        for repo in ["large", *(f"small{s:02d}" for s in range(SMALL))]:
            table = f"part_{repo}"
            conn.execute(f"CREATE TABLE {table} (LIKE part)")
            copy_rows(conn, table, [(str(i), repo, DIM, base[i])
                                    for i in np.flatnonzero(repo_of == repo)])  # fmt: skip
            part_build += timed(conn, hnsw(table, f"{table}_hnsw", 128))
            conn.execute(f"ANALYZE {table}")
            if repo == "large":
                conn.execute(f"ALTER TABLE part ATTACH PARTITION {table} FOR VALUES IN ('large')")
        print(f"  partitioned: HNSW builds {part_build:.1f} s in all (load {load()})", flush=True)

        conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        rows_out = []

        def measure(label: str, table: str, rows: np.ndarray, repo: str | None = None) -> float:
            search(conn, table, queries[:30], repo)  # warm
            ms, ids = search(conn, table, queries, repo)
            r = recall(ids, queries, base, rows)
            rows_out.append((label, pct(ms, 50), pct(ms, 95), r))
            return r

        everything = np.arange(n)
        kept = measure("one table, ef_construction 128 (before)", "flat128", everything)
        r64 = measure("one table, ef_construction 64", "flat64", everything)
        attached = 0
        for small in (0, 10, SMALL):
            for s in range(attached, small):
                conn.execute(f"ALTER TABLE part ATTACH PARTITION part_small{s:02d} "
                             f"FOR VALUES IN ('small{s:02d}')")  # fmt: skip
            attached = small
            conn.execute("ANALYZE part")
            shown = plan(conn, "part", queries[0])
            scans = shown.count("Index Scan using part_")
            if scans != 1 + small or "Seq Scan" in shown:
                failures.append(f"plan with {small} small partitions:\n{shown}")
            rows = np.flatnonzero((repo_of == "large") | np.isin(
                repo_of, [f"small{s:02d}" for s in range(small)]))  # fmt: skip
            measure(f"partitioned, large + {small} small: across", "part", rows)
        measure("partitioned: repo=large (pruned)", "part", np.flatnonzero(repo_of == "large"),
                "large")  # fmt: skip
        measure("partitioned: repo=small07 (pruned)", "part",
                np.flatnonzero(repo_of == "small07"), "small07")  # fmt: skip
        conn.close()
        pg.cleanup()

    print(f"\n  HNSW statement at ef_search {EF_SEARCH}, {len(queries)} queries, warm; "
          f"load average {load()}")  # fmt: skip
    print(f"  {'configuration':<48}{'p50 ms':>8}{'p95 ms':>8}{'recall@10':>11}")
    for label, p50, p95, r in rows_out:
        print(f"  {label:<48}{p50:>8.2f}{p95:>8.2f}{r:>11.3f}")
    print(f"  HNSW build, one table: ef_construction 128 {builds['flat128']:.1f} s, "
          f"64 {builds['flat64']:.1f} s")  # fmt: skip
    print(f"  recall at ef_search {EF_SEARCH}: ef_construction 128 {kept:.3f}, 64 {r64:.3f}")
    if min(kept, r64) < 0.95:
        print("  (the lower ef_construction stays out unless its recall is >= 0.95)")
    if storage.HNSW_EF_CONSTRUCTION == 64 and r64 < 0.95:
        failures.append(f"recall {r64:.3f} < 0.95 at ef_construction 64 (the one in use)")
    if failures:
        raise SystemExit("FAILED:\n" + "\n".join(failures))


if __name__ == "__main__":
    main()
