"""Keyword search at scale when a query's rarest terms select the entries it ranks
(``search.SELECTING_ENTRIES``): retrieval quality and latency at 100k entries.

    uv run python bench/keyword_candidates_bench.py [--entries 100000] [--per-package 200]
        [--ladders all 500,2000 1000,5000] [--keep DIR]

The quality bench (``catalog_bench --only quality``) searches 400 entries: there every
candidate list is short, whatever selects it. Here the same kind of pairs (first
docstring sentence -> the function without its docstring, from several real packages)
hide among real functions of the other installed packages, up to ``--entries``, in one
embedded PostgreSQL loaded through the catalog's own write path and analyzed as the sync
does. Each ladder of ``--ladders`` (how few entries must hold a term for it to select, tried in turn
until an entry holds a selecting term, then every term; "all": every term selects, the
ranking before the ladder) runs every pair in keyword and in hybrid mode through
``discover``: MRR@10, Hit@1, Hit@10, per-query wall ms (median and p95 over ``--rounds``
alternating rounds), how many top-10 lists differ from every term selecting, and which
rung selected each query's candidates. Exits non-zero when the shipped ladder's hybrid
MRR@10 falls more than ``--tolerance`` below every term selecting, or when one of its
keyword searches lists fewer hits than every term selecting does.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pgserver
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _corpus import python_definitions
from catalog_bench import Pair, codesearchnet_pairs, new_database, pct

from kgents_assets.catalog import search, storage
from kgents_assets.catalog.embedders.registry import DEFAULT_SPEC, get_embedder
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.store import Store

#: Real packages in the venv whose documented functions are the pairs; none of their
#: files (nor a fork's, e.g. httpx2) is among the distractors.
PAIR_PACKAGES = ("rich", "click", "jinja2", "httpx")
Ladder = tuple[int, ...]
SHIPPED: Ladder = search.SELECTING_ENTRIES


def pairs(per_package: int) -> list[Pair]:
    found: list[Pair] = []
    for name in PAIR_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec and spec.origin, name
        for pair in codesearchnet_pairs(Path(spec.origin).parent, per_package):
            entry = pair.entry.model_copy(update={"id": f"p{len(found)}"})
            found.append(Pair(pair.query, entry))
    return found


def distractors(n: int) -> list[CatalogEntry]:
    """Up to ``n`` functions of the other installed packages, as the latency bench takes
    them (description: the name; body: the source, docstring included, cut at 1,500)."""
    site = Path(np.__file__).parent.parent
    excluded = tuple(site / name for name in PAIR_PACKAGES)
    entries: list[CatalogEntry] = []
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for path, lines, node in python_definitions(site, functions):
        if len(entries) >= n:
            break
        if any(path.is_relative_to(Path(f"{root}2")) or path.is_relative_to(root)
               for root in excluded):  # fmt: skip
            continue
        entries.append(CatalogEntry(
            id=f"e{len(entries)}", entity_type="function", name=node.name,
            description=f"function {node.name}", origin="node",
            body="\n".join(lines[node.lineno - 1 : node.end_lineno])[:1500],
        ))  # fmt: skip
    return entries


def load(server: Store, entries: list[CatalogEntry]) -> Store:
    store = new_database(server)
    embedder = get_embedder(DEFAULT_SPEC)
    started = time.perf_counter()
    with store.transaction() as conn:
        storage.prepare(conn)
        for s in range(0, len(entries), 10_000):
            batch = entries[s : s + 10_000]
            storage.upsert_entries(conn, batch)
            vectors = embedder.embed([storage.embedding_text(e) for e in batch])
            storage.upsert_embeddings(conn, batch, vectors, embedder, index=False)
        storage.ensure_vector_index(conn, embedder.dimension)
        storage.write_embedder_meta(conn, embedder)
    with store.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # the statistics the sync's ANALYZE keeps
    print(f"  loaded and indexed in {time.perf_counter() - started:.1f} s")
    return store


def kept(keep: Path | None, server: Store, entries: list[CatalogEntry]) -> Store:
    """A loaded catalog: a new one, or with ``keep`` the one a previous run left there."""
    if keep is None:
        return load(server, entries)
    marker = keep / f"catalog-{len(entries)}.url"
    if marker.exists():
        print("  reusing the catalog loaded by a previous run")
        return Store(url=marker.read_text())
    store = load(server, entries)
    marker.write_text(store.url)
    return store


def rungs(conn: psycopg.Connection[Any], queries: list[str]) -> str:
    """How many queries each rung of the current ladder selected the candidates of: the
    first whose terms some entry holds (the last rung is every term)."""
    used: Counter[str] = Counter()
    for query in queries:
        terms = search._check(query, "keyword", 10)
        selections = search.selections(conn, terms)
        held_by = search.term_entries(conn, terms)
        for n, selecting in enumerate(selections):
            held = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM catalog_entries "
                "WHERE tsv @@ to_tsquery('english', %s))",
                (selecting,),
            ).fetchone()
            if n == len(selections) - 1:
                used["every term"] += 1
                break
            if held and held[0]:
                rarest = max(held_by[t] for t in selecting.split(" | "))
                rung = next(c for c in search.SELECTING_ENTRIES if rarest < c)
                used[f"under {rung:,}"] += 1
                break
    return ", ".join(f"{k}: {v}" for k, v in sorted(used.items()))


def label(ladder: Ladder) -> str:
    if not ladder:
        return "every term"
    return "under " + ", ".join(f"{entries:,}" for entries in ladder)


def parse(text: str) -> Ladder:
    return () if text == "all" else tuple(int(s) for s in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--per-package", type=int, default=200)
    parser.add_argument("--ladders", nargs="+", default=["all", "500", "500,2000", "1000,5000"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the server and its loaded catalog in DIR and reuse them on the next run",
    )
    args = parser.parse_args()
    ladders = list(dict.fromkeys([(), *map(parse, args.ladders)]))
    found = pairs(args.per_package)
    entries = [p.entry for p in found] + distractors(args.entries - len(found))
    print(f"{len(found)} pairs from {', '.join(PAIR_PACKAGES)} among {len(entries):,} entries")
    embedder = get_embedder(DEFAULT_SPEC)
    configs = [(ladder, mode) for ladder in ladders for mode in ("keyword", "hybrid")]
    ms: dict[tuple[Ladder, str], list[float]] = {c: [] for c in configs}
    answers: dict[tuple[Ladder, str], list[list[str]]] = {}
    selected: dict[Ladder, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pg_dir, cleanup = (args.keep, None) if args.keep else (Path(tmp) / "pg", "delete")
        pg = pgserver.get_server(pg_dir, cleanup_mode=cleanup)
        store = kept(args.keep, Store(url=str(pg.get_uri())), entries)
        with store.connect() as conn:
            listed = conn.execute(
                "SELECT count(*) FROM pg_stats s, unnest(s.most_common_elems::text::text[]) f "
                "WHERE s.tablename = 'catalog_entries' AND s.attname = 'tsv'"
            ).fetchone()
            print(f"  tsv statistics: {listed[0] if listed else 0} lexemes listed")
            for ladder in ladders:
                search.SELECTING_ENTRIES = ladder
                selected[ladder] = rungs(conn, [p.query for p in found])
        for r in range(args.rounds):
            for ladder, mode in configs if r % 2 == 0 else configs[::-1]:
                search.SELECTING_ENTRIES = ladder
                ids: list[list[str]] = []
                for p in found:
                    started = time.perf_counter()
                    hits = search.discover(store, p.query, mode=mode, limit=10, embedder=embedder)  # type: ignore[arg-type]
                    ms[(ladder, mode)].append((time.perf_counter() - started) * 1000)
                    ids.append([h.entry.id for h in hits])
                answers[(ladder, mode)] = ids
        search.SELECTING_ENTRIES = SHIPPED

    print(f"\n{len(found)} queries, {args.rounds} alternating rounds")
    print(f"  {'terms that select':20} {'mode':8} {'MRR@10':>7} {'Hit@1':>6} {'Hit@10':>6} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'top-10 differs':>15}")  # fmt: skip
    mrr: dict[tuple[Ladder, str], float] = {}
    for ladder, mode in configs:
        ids = answers[(ladder, mode)]
        ranks = [
            got.index(p.entry.id) + 1 if p.entry.id in got else None
            for p, got in zip(found, ids, strict=True)
        ]
        mrr[(ladder, mode)] = sum(1 / r for r in ranks if r) / len(ranks)
        hit1 = sum(r == 1 for r in ranks) / len(ranks)
        hit10 = sum(r is not None for r in ranks) / len(ranks)
        differs = sum(a != b for a, b in zip(ids, answers[((), mode)], strict=True))
        t = ms[(ladder, mode)]
        print(f"  {label(ladder):20} {mode:8} {mrr[(ladder, mode)]:7.3f} {hit1:6.3f} "
              f"{hit10:6.3f} {statistics.median(t):7.1f} {pct(t, 95):7.1f} "
              f"{differs:>7}/{len(ids)}")  # fmt: skip
    print("\nwhich rung selected the candidates (queries)")
    for ladder in ladders:
        print(f"  {label(ladder):20} {selected[ladder]}")
    if SHIPPED in ladders:
        # a keyword search lists as many hits as match, whichever terms select
        short = sum(
            len(a) < len(b)
            for a, b in zip(answers[(SHIPPED, "keyword")], answers[((), "keyword")], strict=True)
        )
        if short:
            raise SystemExit(
                f"FAILED: {short} keyword searches list fewer hits under the shipped ladder "
                "than with every term selecting"
            )
        print("  keyword lists as long as with every term selecting: all")
        lost = mrr[((), "hybrid")] - mrr[(SHIPPED, "hybrid")]
        if lost > args.tolerance:
            raise SystemExit(
                f"FAILED: the shipped ladder ({label(SHIPPED)}) loses {lost:.3f} of hybrid "
                f"MRR@10 against every term selecting (tolerance {args.tolerance})"
            )
        print(f"  the shipped ladder ({label(SHIPPED)}): hybrid MRR@10 {-lost:+.3f} "
              "against every term selecting")  # fmt: skip


if __name__ == "__main__":
    main()
