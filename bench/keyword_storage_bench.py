"""Keyword search against where the search vectors are stored: out of line for rows over
2 kB (a store's rows written before migration 0102) or in the row up to 8 kB (0102 on).

    uv run python bench/keyword_storage_bench.py [--rounds 4] [--queries 200]

One real PostgreSQL (pgserver), one database per layout, each migrated to this tree and
then set to its layout (``LAYOUTS``): before (PostgreSQL's default toast_tuple_target, as a
store upgraded from before 0102 holds the rows it wrote then), after (0102), and the
alternative 0102 turned down. Every one gets the same entries
through the catalog's own write path: every function, class and method of Django 5.2 (a
cold catalog of the README's repository, bodies as long as the catalog keeps them), then
the same docstring queries through ``discover`` in keyword mode and through the ranking
statement alone. Rounds alternate the order; medians and p95 of per-query wall ms. Exits
non-zero when a store answers a query differently from the first (ids or scores).
"""

from __future__ import annotations

import argparse
import ast
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pgserver

sys.path.insert(0, str(Path(__file__).parent))
from _corpus import fetch_sdist, python_definitions
from catalog_bench import new_database, pct

from kgents_assets.catalog import storage
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.catalog.search import _check, discover, keyword_ranking
from kgents_assets.store import Store

DEPTH = 50  # what hybrid mode takes from the keyword side (search.HYBRID_DEPTH)
#: Each store's layout of catalog_entries, set after this tree's migrations.
LAYOUTS = {
    "before (0101)": "ALTER TABLE catalog_entries RESET (toast_tuple_target)",
    "after (0102)": "",
    # the alternative 0102 explains turning down
    "tsv STORAGE MAIN": "ALTER TABLE catalog_entries RESET (toast_tuple_target); "
    "ALTER TABLE catalog_entries ALTER COLUMN tsv SET STORAGE MAIN",
}


def corpus(root: Path) -> tuple[list[CatalogEntry], list[str]]:
    """Entries for every definition under ``root`` and first docstring sentences as queries."""
    entries: list[CatalogEntry] = []
    queries: list[str] = []
    for path, lines, node in python_definitions(root):
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        doc = ast.get_docstring(node)
        if doc:
            sentence = " ".join(doc.strip().split("\n\n", 1)[0].split())
            if len(sentence.split()) >= 4:
                queries.append(sentence)
        entries.append(
            CatalogEntry(
                id=f"e{len(entries)}", entity_type=kind, name=node.name,
                description=f"{kind} {node.name}", origin="node",
                path=path.relative_to(root).as_posix(),
                body="\n".join(lines[node.lineno - 1 : node.end_lineno]),
            )
        )  # fmt: skip
    return entries, queries


def new_store(server: Store, setup: str) -> Store:
    store = new_database(server)  # migrated to this tree
    if setup:
        with store.transaction() as conn:
            conn.execute(setup)
    return store


def load(store: Store, entries: list[CatalogEntry]) -> float:
    started = time.perf_counter()
    with store.transaction() as conn:
        storage.prepare(conn)
        for s in range(0, len(entries), 5000):
            storage.upsert_entries(conn, entries[s : s + 5000])
    with store.connect(autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE catalog_entries")
    return time.perf_counter() - started


def sizes(store: Store) -> str:
    """The entries' heap and TOAST sizes: where the rows' large values went."""
    with store.connect() as conn:
        row = conn.execute(
            "SELECT pg_size_pretty(pg_relation_size(oid)), "
            "pg_size_pretty(pg_relation_size(reltoastrelid)) FROM pg_class "
            "WHERE oid = 'catalog_entries'::regclass"
        ).fetchone()
    assert row is not None
    return f"heap {row[0]}, TOAST {row[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    entries, sentences = corpus(fetch_sdist("django", "5.2"))
    step = max(1, len(sentences) // args.queries)
    queries = sentences[::step][: args.queries]
    with tempfile.TemporaryDirectory() as tmp:
        pg = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        server = Store(url=str(pg.get_uri()))
        stores = {label: new_store(server, setup) for label, setup in LAYOUTS.items()}
        print(f"{len(entries):,} entries from Django 5.2, {len(queries)} docstring queries")
        for label, store in stores.items():
            print(f"  {label}: loaded in {load(store, entries):.1f} s")
        terms = [_check(q, "keyword", 10) for q in queries]
        conns = {label: store.connect(autocommit=True) for label, store in stores.items()}

        def ranking(label: str) -> tuple[list[float], list[object]]:
            ms, answers = [], []
            for t in terms:
                started = time.perf_counter()
                answers.append(keyword_ranking(conns[label], t, DEPTH))
                ms.append((time.perf_counter() - started) * 1000)
            return ms, answers

        def api(label: str) -> tuple[list[float], list[object]]:
            ms, answers = [], []
            for q in queries:
                started = time.perf_counter()
                hits = discover(stores[label], q, mode="keyword", limit=10)
                ms.append((time.perf_counter() - started) * 1000)
                answers.append([(h.entry.id, round(h.score, 6)) for h in hits])
            return ms, answers

        configs: list[tuple[str, str, Callable[[str], tuple[list[float], list[object]]]]] = [
            (f"ranking statement (top {DEPTH}), {label}", label, ranking) for label in stores
        ] + [(f"discover --mode keyword, {label}", label, api) for label in stores]
        measured: dict[str, list[float]] = {name: [] for name, _, _ in configs}
        answers: dict[str, list[object]] = {}
        for _, label, run in configs:  # warm: statements and pools
            run(label)
        for r in range(args.rounds):
            for name, label, run in configs if r % 2 == 0 else configs[::-1]:
                ms, answers[name] = run(label)
                measured[name].extend(ms)
        for conn in conns.values():
            conn.close()
        stored = {label: sizes(store) for label, store in stores.items()}

    print(f"\nkeyword search, {args.rounds} alternating rounds (per-query wall ms)")
    print(f"  {'configuration':58} {'p50':>7} {'p95':>7}")
    for name, ms in measured.items():
        print(f"  {name:58} {statistics.median(ms):7.2f} {pct(ms, 95):7.2f}")
    for label, size in stored.items():
        print(f"  {label}: {size}")
    labels = list(stores)
    failed = [
        (name, f"{kind}, {labels[0]}")
        for name, label, _ in configs
        for kind in [name.split(", ")[0]]
        if label != labels[0] and answers[name] != answers[f"{kind}, {labels[0]}"]
    ]
    if failed:
        raise SystemExit(f"FAILED: stores answered differently: {failed}")
    print("  every store gave the same answers (ids and scores) to every query")


if __name__ == "__main__":
    main()
