"""``sync_catalog`` on a cold bulk load, the code before and after (issue 12), one run.

    uv run python bench/catalog_sync_bench.py [--before e6f2004] [--queries 40]

bench/catalog_load_bench.py measures the SQL ways of writing vectors; this one times the
real thing: Django 5.2 is refreshed once (all three hub stages) into a scratch pgserver
database, which is cloned twice (``CREATE DATABASE ... TEMPLATE``), and each clone gets a
cold ``sync_catalog(store, HashingEmbedder(), repo=...)``: one in a process running the
package as it was at ``--before`` (``git archive``), one running this tree. Wall clock of
the sync call in each process, same data, same machine, back to back.

Then both catalogs are compared: entries (every column but timestamps), relationships,
vectors (bytes), and the results of ``discover`` (keyword, semantic, hybrid) for
``--queries`` names taken from the catalog. Keyword and stored data must be identical;
the HNSW graph depends on insertion order, so approximate semantic results may differ in
rare ties: the overlap is printed and a low overlap (< 0.95) fails. Exits non-zero on any
difference in the stored data.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pgserver
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _baseline import BenchFailure
from _corpus import fetch_sdist

REPO = "django"
ROOT = Path(__file__).resolve().parent.parent
#: The last commit of kgents_assets/catalog/{sync,storage}.py before the bulk-load path.
BEFORE = "e6f20046ba2330dce8af9d7814bb3dae8904863d"

WORKER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import Store
store = Store(url=sys.argv[2])
t0 = time.perf_counter()
report = sync_catalog(store, HashingEmbedder(), repo=sys.argv[3])
wall = time.perf_counter() - t0
import kgents_assets
print(json.dumps({"wall_s": wall, "report": report.as_dict(), "pkg": kgents_assets.__file__}))
"""


def database_url(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def run_sync(tree: Path, url: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(tree), url, REPO],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise BenchFailure(f"sync in {tree} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    if not str(result["pkg"]).startswith(str(tree)):
        raise BenchFailure(f"the worker imported {result['pkg']}, not the tree {tree}")
    return result


def snapshot(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        entries = conn.execute(
            "SELECT id, entity_type, name, version, description, keywords, status, origin, "
            "author, node_id, path, body, deprecation_reason, metadata::text, text_hash, "
            "fingerprint, repo, tsv::text FROM catalog_entries ORDER BY id"
        ).fetchall()
        rels = conn.execute(
            "SELECT src, kind, dst FROM catalog_relationships ORDER BY 1, 2, 3"
        ).fetchall()
        vectors = conn.execute(
            "SELECT entry_id, embedder, dim, text_hash, md5(embedding::text) "
            "FROM catalog_embeddings ORDER BY 1"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'catalog_%%' "
            "ORDER BY 1"
        ).fetchall()
    return {"entries": entries, "relationships": rels, "vectors": vectors, "indexes": indexes}


def search_results(url: str, queries: list[str]) -> dict[str, list[list[str]]]:
    from kgents_assets.catalog.embedders import HashingEmbedder
    from kgents_assets.catalog.search import discover
    from kgents_assets.store import Store

    store, embedder = Store(url=url), HashingEmbedder()
    return {
        mode: [
            [h.entry.id for h in discover(store, q, mode=mode, limit=10, embedder=embedder)]  # type: ignore[arg-type]
            for q in queries
        ]
        for mode in ("keyword", "semantic", "hybrid")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default=BEFORE, help="git revision of the 'before' code")
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()

    from kgents_assets.hub.refresh import refresh_repository
    from kgents_assets.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old_tree = work / "before"
        old_tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.before, "kgents_assets"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
        root = work / "django"
        shutil.copytree(fetch_sdist("django", "5.2"), root)

        pg = pgserver.get_server(work / "pg", cleanup_mode="stop")
        server = str(pg.get_uri())
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE src")
        store = Store(url=database_url(server, "src"))
        store.migrate()
        started = time.perf_counter()
        refresh_repository(store, root, repo=REPO)
        print(f"refreshed Django 5.2 (hub stages) in {time.perf_counter() - started:.1f} s")
        with psycopg.connect(server, autocommit=True) as conn:
            for name in ("before", "after"):
                conn.execute(f"CREATE DATABASE {name} TEMPLATE src")

        before = run_sync(old_tree, database_url(server, "before"))
        after = run_sync(ROOT, database_url(server, "after"))
        entries = after["report"]["reembedded"]  # type: ignore[index]
        print(f"\n  {'cold sync_catalog, Django 5.2':<36}{'entries':>9}{'wall s':>9}{'/s':>8}")
        for label, result in ((f"before ({args.before[:7]})", before), ("after", after)):
            wall = float(result["wall_s"])  # type: ignore[arg-type]
            print(f"  {label:<36}{entries:>9,}{wall:>9.1f}{entries / wall:>8,.0f}")
        print(f"  speed-up {float(before['wall_s']) / float(after['wall_s']):.1f}x")  # type: ignore[arg-type]

        a, b = snapshot(database_url(server, "before")), snapshot(database_url(server, "after"))
        failures = [k for k in a if a[k] != b[k]]
        with psycopg.connect(database_url(server, "after")) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM catalog_entries ORDER BY md5(id) LIMIT %s", (args.queries,)
                )
            ]
        ra = search_results(database_url(server, "before"), names)
        rb = search_results(database_url(server, "after"), names)
        for mode in ra:
            same = sum(x == y for x, y in zip(ra[mode], rb[mode], strict=True))
            overlap = sum(
                len(set(x) & set(y)) / max(len(x), 1)
                for x, y in zip(ra[mode], rb[mode], strict=True)
            ) / len(names)
            print(f"  {mode:<9} search: {same}/{len(names)} result lists identical, "
                  f"top-10 overlap {overlap:.3f}")  # fmt: skip
            if mode == "keyword" and same != len(names):
                failures.append("keyword search")
            if overlap < 0.95:
                failures.append(f"{mode} search overlap {overlap:.3f}")
        pg.cleanup()
    if failures:
        raise BenchFailure(f"before and after differ: {', '.join(failures)}")
    print("  stored entries, relationships, vectors and indexes identical")


if __name__ == "__main__":
    main()
