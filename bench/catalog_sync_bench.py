"""``sync_catalog`` on a cold bulk load, the code before and after (issue 12), one run.

    uv run python bench/catalog_sync_bench.py [--before dba0dd5] [--rounds 1] [--queries 40]

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

Also, in the same run: the incremental path (one node's docstring edited, the same edit
in both stores, then ``sync_catalog`` again: one entry re-embedded) before and after, and
the embedder alone (every Django entry's embedding text, one process, entries/s) in each
tree. ``--rounds N`` repeats the cold syncs on fresh clones, alternating which tree goes
first, and reports medians. The load average is printed with the figures: the machine is
shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
#: main before issue 12's cold-catalog work (the HNSW index already built after the load)
BEFORE = "dba0dd5"

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

#: The embedder alone: a sample of the entries' embedding texts (every k-th, as stored),
#: one process, 3 passes (the first fills the caches, as a cold load does).
EMBED_WORKER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import psycopg
from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import HashingEmbedder
with psycopg.connect(sys.argv[2]) as conn:
    entries = storage.list_entries(conn)
texts = [storage.embedding_text(e) for e in entries[:: max(1, len(entries) // int(sys.argv[3]))]]
embedder, walls, cpus = HashingEmbedder(), [], []
for _ in range(3):
    w, c = time.perf_counter(), time.process_time()
    for i in range(0, len(texts), 256):
        embedder.embed(texts[i : i + 256])
    walls.append(time.perf_counter() - w)
    cpus.append(time.process_time() - c)
import kgents_assets
print(json.dumps({"n": len(texts), "walls": walls, "cpus": cpus, "pkg": kgents_assets.__file__}))
"""

#: One node's docstring edited the way node_state would store it, with its catalog mark.
EDIT_SQL = """
WITH n AS (SELECT key, repo FROM kv WHERE repo = %(repo)s AND key LIKE 'node:%%:state'
           AND value->>'kind' = 'function' ORDER BY key LIMIT 1)
UPDATE kv SET value = jsonb_set(kv.value, '{docstring_summary}',
                                to_jsonb('Edited by the bench: parse the request body.'::text))
FROM n WHERE kv.key = n.key RETURNING kv.value->>'node_id'
"""


def database_url(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def run_worker(tree: Path, code: str, *args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tree), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),  # not /work/main: its package would shadow the tree's
    )
    if out.returncode != 0:
        raise BenchFailure(f"worker in {tree} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    if not str(result["pkg"]).startswith(str(tree)):
        raise BenchFailure(f"the worker imported {result['pkg']}, not the tree {tree}")
    return result


def run_sync(tree: Path, url: str) -> dict[str, object]:
    return run_worker(tree, WORKER, url, REPO)


def edit_one_node(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(EDIT_SQL, {"repo": REPO}).fetchone()
        if row is None:
            raise BenchFailure("no function node to edit")
        conn.execute(
            "INSERT INTO hub_dirty (repo, node_id, stage) VALUES (%s, %s, 'catalog') "
            "ON CONFLICT DO NOTHING",
            (REPO, row[0]),
        )
    return str(row[0])


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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
            [h.entry.id for h in discover(store, q, mode=mode, limit=10, embedder=embedder)]
            for q in queries
        ]
        for mode in ("keyword", "semantic", "hybrid")
    }


def cold_round(
    server: str, trees: dict[str, Path], round_no: int, first: str
) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """One cold sync per tree on fresh clones of ``src``, ``first`` going first."""
    urls = {}
    with psycopg.connect(server, autocommit=True) as conn:
        for label in trees:
            name = f"{label}_{round_no}"
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE src")
            urls[label] = database_url(server, name)
    order = [first, *(t for t in trees if t != first)]
    results = {}
    for label in order:
        results[label] = run_sync(trees[label], urls[label])
        print(f"  round {round_no + 1}: {label:<7} {float(results[label]['wall_s']):7.1f} s  "  # type: ignore[arg-type]
              f"(load {load()})", flush=True)  # fmt: skip
    return results, urls


def compare(urls: dict[str, str], what: str) -> list[str]:
    a, b = snapshot(urls["before"]), snapshot(urls["after"])
    differ = [f"{k} ({what})" for k in a if a[k] != b[k]]
    print(f"  {what}: stored entries, relationships, vectors and indexes "
          f"{'DIFFER: ' + ', '.join(differ) if differ else 'identical'}")  # fmt: skip
    return differ


def prepared_server(args: argparse.Namespace, work: Path) -> tuple[str, object | None]:
    """(server URL, pgserver handle to clean up): ``--server`` has ``src`` ready; else a
    scratch server gets Django refreshed into ``src`` (all three hub stages)."""
    if args.server:
        return args.server, None
    from kgents_assets.hub.refresh import refresh_repository
    from kgents_assets.store import Store

    root = work / "django"
    shutil.copytree(fetch_sdist("django", "5.2"), root)
    pg = pgserver.get_server(work / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]
    server = str(pg.get_uri())
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("CREATE DATABASE src")
    store = Store(url=database_url(server, "src"))
    store.migrate()
    started = time.perf_counter()
    refresh_repository(store, root, repo=REPO)
    print(f"refreshed Django 5.2 (hub stages) in {time.perf_counter() - started:.1f} s")
    return server, pg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default=BEFORE, help="git revision of the 'before' code")
    parser.add_argument("--rounds", type=int, default=1, help="cold syncs per tree")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--embed-sample", type=int, default=8000, help="texts for the "
                        "embedder-alone figure")  # fmt: skip
    parser.add_argument(
        "--server", help="a PostgreSQL server URL whose database 'src' holds Django's hub "
        "stages already (skips the refresh; clones are created and dropped there)"
    )  # fmt: skip
    args = parser.parse_args()

    failures: list[str] = []
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
        trees = {"before": old_tree, "after": ROOT}
        server, pg = prepared_server(args, work)
        print(f"cold sync_catalog on Django 5.2, before = {args.before}, after = this tree; "
              f"load average {load()}", flush=True)  # fmt: skip
        walls: dict[str, list[float]] = {"before": [], "after": []}
        urls: dict[str, str] = {}
        results: dict[str, dict[str, object]] = {}
        for r in range(args.rounds):
            results, urls = cold_round(server, trees, r, "before" if r % 2 == 0 else "after")
            for label in trees:
                walls[label].append(float(results[label]["wall_s"]))  # type: ignore[arg-type]
            failures += compare(urls, f"cold, round {r + 1}")
            if r < args.rounds - 1:
                with psycopg.connect(server, autocommit=True) as conn:
                    for label in trees:
                        conn.execute(f"DROP DATABASE IF EXISTS {label}_{r} WITH (FORCE)")
        entries = int(results["after"]["report"]["reembedded"])  # type: ignore[index]
        med = {label: statistics.median(w) for label, w in walls.items()}
        print(f"\n  {'cold sync_catalog, Django 5.2':<36}{'entries':>9}{'median s':>10}"
              f"{'/s':>8}   rounds")  # fmt: skip
        for label in trees:
            name = f"before ({args.before[:7]})" if label == "before" else "after"
            print(f"  {name:<36}{entries:>9,}{med[label]:>10.1f}{entries / med[label]:>8,.0f}"
                  f"   {', '.join(f'{w:.1f}' for w in walls[label])}")  # fmt: skip
        print(f"  speed-up {med['before'] / med['after']:.1f}x; load average {load()}")
        phases = results["after"]["report"]["phases_s"]  # type: ignore[index]
        print(
            "  after, where the time went (s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in phases.items())
        )

        # the incremental path: the same one-node edit in both stores
        edited = {label: edit_one_node(urls[label]) for label in trees}
        if edited["before"] != edited["after"]:
            failures.append("the edit hit different nodes")
        incremental = {label: run_sync(trees[label], urls[label]) for label in trees}
        for label in trees:
            report = incremental[label]["report"]
            print(f"  one-node edit, {label:<7} {float(incremental[label]['wall_s']):6.2f} s, "  # type: ignore[arg-type]
                  f"re-embedded {report['reembedded']}")  # type: ignore[index]  # fmt: skip
        failures += compare(urls, "after the edit")

        with psycopg.connect(urls["after"]) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM catalog_entries ORDER BY md5(id) LIMIT %s", (args.queries,)
                )
            ]
        ra = search_results(urls["before"], names)
        rb = search_results(urls["after"], names)
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

        # the embedder alone, same texts, one process each
        for label in trees:
            res = run_worker(trees[label], EMBED_WORKER, urls["after"], str(args.embed_sample))
            n = int(res["n"])  # type: ignore[call-overload]
            wall = statistics.median(res["walls"])  # type: ignore[arg-type]
            cpu = statistics.median(res["cpus"])  # type: ignore[arg-type]
            print(f"  hashing embedder alone, {label:<7} {n / wall:>7,.0f} entries/s wall, "
                  f"{n / cpu:>7,.0f} entries/s CPU (median of 3 passes over {n:,})")  # fmt: skip
        print(f"  load average {load()}")
        with psycopg.connect(server, autocommit=True) as conn:
            for label in trees:
                conn.execute(f"DROP DATABASE IF EXISTS {label}_{args.rounds - 1} WITH (FORCE)")
        if pg is not None:
            pg.cleanup()  # type: ignore[attr-defined]
    if failures:
        raise BenchFailure(f"before and after differ: {', '.join(failures)}")
    print("  stored entries, relationships, vectors and indexes identical in every comparison")


if __name__ == "__main__":
    main()
