"""Which pgvector index for the catalog: HNSW (as before) or IVFFlat, measured (issue 12).

    uv run python bench/vector_index_bench.py [--sizes 44000,100000] [--queries 200]

One throwaway pgserver; real functions from site-packages embedded with the default
hashing embedder (512-d), in a table laid out like ``catalog_embeddings`` (the vector in
TOAST). For each catalog size and index: build time (maintenance_work_mem 1GB, parallel
workers allowed, as the catalog builds), then per query setting the search statement
alone (the catalog's expression, warm prepared connection, ids only): p50/p95 ms and
recall@10 against exact search (numpy, ties counted as in catalog_bench). Then the live
index: the cost of inserting more vectors into it (HNSW: a sample, as a rate), and
IVFFlat's recall when the table doubled and quadrupled after the build (lists fixed),
next to a rebuild at the final size. Prints the load average; the machine is shared.
"""

from __future__ import annotations

import argparse
import math
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
from catalog_bench import pct, site_packages_functions, table

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import build_embedder

DIM = 512  # set from --embedder


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_table(conn: psycopg.Connection[Any], name: str, vectors: np.ndarray, start: int) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {name} (entry_id text PRIMARY KEY, embedder text NOT NULL, "
        "dim integer NOT NULL, text_hash text NOT NULL, embedding vector NOT NULL)"
    )
    insert(conn, name, vectors, start)


def insert(conn: psycopg.Connection[Any], name: str, vectors: np.ndarray, start: int) -> float:
    t0 = time.perf_counter()
    with conn.cursor().copy(
        f"COPY {name} (entry_id, embedder, dim, text_hash, embedding) FROM STDIN "
        "WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "text", "int4", "text", "vector"])
        for n, v in enumerate(vectors, start):
            copy.write_row((f"e{n}", "hashing", DIM, "h", v))
    return time.perf_counter() - t0


def build(
    conn: psycopg.Connection[Any], name: str, kind: str, lists: int = 0, m: int = 16, efc: int = 128
) -> float:
    conn.execute(f"DROP INDEX IF EXISTS {name}_idx")
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET min_parallel_table_scan_size = 0")
    with_ = (
        f"WITH (m = {m}, ef_construction = {efc})" if kind == "hnsw" else f"WITH (lists = {lists})"
    )
    t0 = time.perf_counter()
    conn.execute(
        f"CREATE INDEX {name}_idx ON {name} USING {kind} "
        f"((embedding::vector({DIM})) vector_cosine_ops) {with_} WHERE dim = {DIM}"
    )
    took = time.perf_counter() - t0
    conn.execute("RESET min_parallel_table_scan_size")
    conn.execute(f"ANALYZE {name}")
    return took


def search(
    conn: psycopg.Connection[Any], name: str, queries: np.ndarray, setting: str
) -> tuple[list[float], list[list[int]]]:
    conn.execute(setting)
    statement = (
        f"SELECT entry_id FROM {name} WHERE dim = {DIM} AND embedder = 'hashing' "
        f"ORDER BY embedding::vector({DIM}) <=> %s::vector({DIM}) LIMIT 10"
    )
    for q in queries[:10]:  # warm: the statement prepared, the pages cached
        conn.execute(statement, (q,), prepare=True).fetchall()
    ms, ids = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows = conn.execute(statement, (q,), prepare=True).fetchall()
        ms.append((time.perf_counter() - t0) * 1000)
        ids.append([int(r[0][1:]) for r in rows])
    return ms, ids


def recall(base: np.ndarray, queries: np.ndarray, ids: list[list[int]]) -> float:
    sims = queries @ base.T
    tenth = np.sort(sims, axis=1)[:, -10]
    found = [
        sum(1 for i in hit if float(base[i] @ q) >= t - 1e-5) / 10
        for hit, q, t in zip(ids, queries, tenth, strict=True)
    ]
    return statistics.mean(found)


def corpus(total: int, n_queries: int, spec: str) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of ``total`` site-packages functions and of ``n_queries`` docstrings."""
    entries, questions = site_packages_functions(total)
    embedder = build_embedder(spec)
    texts = [storage.embedding_text(e) for e in entries]
    base = np.vstack([embedder.embed(texts[i : i + 5000]) for i in range(0, len(texts), 5000)])
    rng = np.random.default_rng(7)
    names = [questions[int(i)] for i in rng.choice(len(questions), n_queries, replace=False)]
    return base.astype(np.float32), embedder.embed(names).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="44000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--grow-from", type=int, default=25_000)
    parser.add_argument("--hnsw-insert-sample", type=int, default=2_000)
    parser.add_argument(
        "--hnsw", default="16:128", help="HNSW settings to build, m:ef_construction,..."
    )
    parser.add_argument("--ef", default="40,60,100", help="hnsw.ef_search values to query")
    parser.add_argument("--no-ivfflat", action="store_true", help="HNSW settings only")
    parser.add_argument("--no-grow", action="store_true", help="skip the live-index part")
    parser.add_argument("--cache", help="an .npz of the embedded corpus: reused when it exists")
    parser.add_argument("--embedder", default="hashing", help="e.g. hashing:256")
    args = parser.parse_args()
    global DIM
    DIM = build_embedder(args.embedder).dimension
    sizes = [int(s) for s in args.sizes.split(",")]
    total = max(sizes)
    t0 = time.perf_counter()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        saved = np.load(cache)
        base, queries = saved["base"][:total], saved["queries"][: args.queries]
    else:
        base, queries = corpus(total, args.queries, args.embedder)
        if cache is not None:
            np.savez(cache, base=base, queries=queries)
    print(f"corpus {len(base):,} vectors, {len(queries)} queries, "
          f"{time.perf_counter() - t0:.0f}s; load {load()}", flush=True)  # fmt: skip

    rows: list[tuple[object, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        with psycopg.connect(pg.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            register_vector(conn)
            version = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
            print(f"pgvector {version[0] if version else '?'}", flush=True)
            for n in sizes:
                name = f"v{n}"
                make_table(conn, name, base[:n], 0)
                conn.execute(f"VACUUM ANALYZE {name}")
                sub = base[:n]
                efs = [f"SET hnsw.ef_search = {e}" for e in args.ef.split(",")]
                # (label, method, lists, settings to query, m, ef_construction)
                configs: list[tuple[str, str, int, list[str], int, int]] = []
                for mc in args.hnsw.split(","):
                    m, efc = (int(x) for x in mc.split(":"))
                    configs.append((f"hnsw m={m} efc={efc}", "hnsw", 0, efs, m, efc))
                ivf_lists = [] if args.no_ivfflat else [max(10, n // 1000), round(math.sqrt(n)),
                                                        2 * n // 1000]  # fmt: skip
                for lists in sorted(set(ivf_lists)):
                    probes = sorted({max(1, round(math.sqrt(lists))), lists // 20 or 1,
                                     lists // 10 or 1, lists // 5 or 1})  # fmt: skip
                    configs.append((f"ivfflat lists={lists}", "ivfflat", lists,
                                    [f"SET ivfflat.probes = {p}" for p in probes], 0, 0))  # fmt: skip
                # no index: what a search costs while an index is missing (30 queries)
                conn.execute(f"DROP INDEX IF EXISTS {name}_idx")
                ms, ids = search(conn, name, queries[:30], "SET hnsw.ef_search = 40")
                rows.append((f"{n:,}", "none (exact)", "0", "-", f"{pct(ms, 50):.2f}",
                             f"{pct(ms, 95):.2f}", f"{recall(sub, queries[:30], ids):.3f}"))  # fmt: skip
                print("   ", rows[-1], flush=True)
                for label, kind, lists, settings, m, efc in configs:
                    took = build(conn, name, kind, lists, m, efc)
                    print(f"  {n:,} {label}: build {took:.1f}s (load {load()})", flush=True)
                    for setting in settings:
                        ms, ids = search(conn, name, queries, setting)
                        rows.append((f"{n:,}", label, f"{took:.1f}", setting.split()[1] + "="
                                     + setting.split()[-1], f"{pct(ms, 50):.2f}",
                                     f"{pct(ms, 95):.2f}", f"{recall(sub, queries, ids):.3f}"))  # fmt: skip
                        print("   ", rows[-1], flush=True)
                conn.execute(f"DROP TABLE {name}")
            table(f"index build and search statement (SQL alone), load {load()}",
                  ("rows", "index", "build s", "setting", "p50 ms", "p95 ms", "recall@10"),
                  rows)  # fmt: skip

            if args.no_grow:
                pg.cleanup()
                return
            # the live index: inserts, and IVFFlat's recall as the table grows past its build
            grow: list[tuple[object, ...]] = []
            b = args.grow_from
            lists = max(10, b // 1000)
            make_table(conn, "g", base[:b], 0)
            build(conn, "g", "hnsw")
            k = args.hnsw_insert_sample
            took = insert(conn, "g", base[b : b + k], b)
            grow.append(("hnsw", f"insert {k:,} into a live index of {b:,}",
                         f"{took:.1f}s = {k / took:.0f}/s", "-"))  # fmt: skip
            conn.execute("DROP TABLE g")
            make_table(conn, "g", base[:b], 0)
            build(conn, "g", "ivfflat", lists)
            have = b
            for target in (2 * b, 4 * b):
                target = min(target, len(base))
                took = insert(conn, "g", base[have:target], have)
                conn.execute("ANALYZE g")
                grow.append(("ivfflat", f"insert {target - have:,} (to {target:,}), lists={lists}",
                             f"{took:.1f}s = {(target - have) / took:.0f}/s", "-"))  # fmt: skip
                have = target
                for p in sorted({round(math.sqrt(lists)), max(1, lists // 10), lists // 5}):
                    ms, ids = search(conn, "g", queries, f"SET ivfflat.probes = {p}")
                    grow.append(("ivfflat", f"{have:,} rows on lists={lists} (built at {b:,}), "
                                 f"probes={p}", f"p50 {pct(ms, 50):.2f} ms",
                                 f"{recall(base[:have], queries, ids):.3f}"))  # fmt: skip
                    print("   ", grow[-1], flush=True)
            rebuilt = max(10, have // 1000)
            took = build(conn, "g", "ivfflat", rebuilt)
            for p in sorted({round(math.sqrt(rebuilt)), max(1, rebuilt // 10), rebuilt // 5}):
                ms, ids = search(conn, "g", queries, f"SET ivfflat.probes = {p}")
                grow.append(("ivfflat", f"{have:,} rows rebuilt lists={rebuilt} ({took:.1f}s), "
                             f"probes={p}", f"p50 {pct(ms, 50):.2f} ms",
                             f"{recall(base[:have], queries, ids):.3f}"))  # fmt: skip
            conn.execute("DROP TABLE g")
            table(f"live index: inserts and growth without a rebuild, load {load()}",
                  ("index", "what", "time", "recall@10"), grow)  # fmt: skip
        pg.cleanup()


if __name__ == "__main__":
    main()
