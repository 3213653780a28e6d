"""``sync_catalog`` on a cold bulk load, the code before and after (issue 12), one run.

    uv run python bench/catalog_sync_bench.py [--before 4fb2752] [--rounds 1] [--queries 40]

bench/catalog_load_bench.py measures the SQL ways of writing vectors; this one times the
real thing: Django 5.2 is refreshed (all three hub stages) into a scratch pgserver
database twice, as repositories ``django`` and ``django2``, which is cloned twice
(``CREATE DATABASE ... TEMPLATE``). Each clone gets a cold
``sync_catalog(store, HashingEmbedder(), repo=...)`` of the first repository of the store,
then of the second (the HNSW index then already holds the first one's vectors): one
clone in processes running the package as it was at ``--before`` (``git archive``), one
running this tree. Wall clock of each sync call and the PostgreSQL server's CPU seconds
during it (postmaster and every backend and parallel worker, from /proc), same data, same
machine, in the order before/after for the first repository and after/before for the
second (alternating; the next round starts with the other tree). Each sync's process
reports its peak RSS (the kernel's VmHWM; the embedding pool's workers are other
processes) and its RSS before the call (imports).

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
#: the store's second repository: the same sources under another name
SECOND = "django2"
ROOT = Path(__file__).resolve().parent.parent
#: main when the third round of issue 12's cold-catalog work started
BEFORE = "4fb2752"

WORKER = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import Store

TICK = os.sysconf("SC_CLK_TCK")

def server_cpu(postmaster):
    # exited children (parallel workers, backends) are counted in the postmaster's
    # cutime/cstime once reaped; live ones are read directly
    total = 0
    for pid in os.listdir("/proc"):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])
        elif fields[1] == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / TICK

def status_kb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0

store = Store(url=sys.argv[2])
if __name__ == "__main__":
    # the process's own memory (the pool's workers are other processes): resident before
    # the call (imports), and the kernel's high-water mark after it
    rss0 = status_kb("VmRSS")
    cpu0 = server_cpu(sys.argv[4])
    t0 = time.perf_counter()
    report = sync_catalog(store, HashingEmbedder(), repo=sys.argv[3])
    wall = time.perf_counter() - t0
    pg_cpu = server_cpu(sys.argv[4]) - cpu0
    import kgents_assets
    print(json.dumps({"wall_s": wall, "pg_cpu_s": pg_cpu, "report": report.as_dict(),
                      "rss_before_mb": rss0 / 1024, "peak_rss_mb": status_kb("VmHWM") / 1024,
                      "pkg": kgents_assets.__file__, "load": os.getloadavg()}))
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


def postmaster_pid(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    return (Path(row[0]) / "postmaster.pid").read_text().split()[0]


def run_sync(tree: Path, url: str, repo: str = REPO) -> dict[str, object]:
    return run_worker(tree, WORKER, url, repo, postmaster_pid(url))


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
) -> tuple[dict[tuple[str, str], dict[str, object]], dict[str, str]]:
    """Cold syncs of the store's first repository, then of its second, per tree on fresh
    clones of ``src``: ``first`` goes first for the first repository, last for the second.
    Results by (tree, repository)."""
    urls = {}
    with psycopg.connect(server, autocommit=True) as conn:
        for label in trees:
            name = f"{label}_{round_no}"
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} TEMPLATE src")
            urls[label] = database_url(server, name)
    order = [first, *(t for t in trees if t != first)]
    results = {}
    for repo, labels in ((REPO, order), (SECOND, order[::-1])):
        for label in labels:
            res = results[label, repo] = run_sync(trees[label], urls[label], repo)
            print(f"  round {round_no + 1}: {repo:<8} {label:<7} {float(res['wall_s']):7.1f} s "  # type: ignore[arg-type]
                  f"wall, PostgreSQL CPU {float(res['pg_cpu_s']):6.1f} s, peak RSS "  # type: ignore[arg-type]
                  f"{float(res['peak_rss_mb']):5.0f} MB ({float(res['rss_before_mb']):.0f} MB "  # type: ignore[arg-type]
                  f"before the call)  (load {load()})",
                  flush=True)  # fmt: skip
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

    pg = pgserver.get_server(work / "pg", cleanup_mode="stop")  # type: ignore[attr-defined]
    server = str(pg.get_uri())
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("CREATE DATABASE src")
    store = Store(url=database_url(server, "src"))
    store.migrate()
    for repo in (REPO, SECOND):
        root = work / repo
        shutil.copytree(fetch_sdist("django", "5.2"), root)
        started = time.perf_counter()
        refresh_repository(store, root, repo=repo)
        print(f"refreshed Django 5.2 as {repo} (hub stages) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
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
        walls: dict[tuple[str, str], list[float]] = {}
        cpus: dict[tuple[str, str], list[float]] = {}
        urls: dict[str, str] = {}
        results: dict[tuple[str, str], dict[str, object]] = {}
        for r in range(args.rounds):
            results, urls = cold_round(server, trees, r, "before" if r % 2 == 0 else "after")
            for key, res in results.items():
                walls.setdefault(key, []).append(float(res["wall_s"]))  # type: ignore[arg-type]
                cpus.setdefault(key, []).append(float(res["pg_cpu_s"]))  # type: ignore[arg-type]
            failures += compare(urls, f"cold, round {r + 1}")
            if r < args.rounds - 1:
                with psycopg.connect(server, autocommit=True) as conn:
                    for label in trees:
                        conn.execute(f"DROP DATABASE IF EXISTS {label}_{r} WITH (FORCE)")
        print(f"\n  {'cold sync_catalog, Django 5.2':<40}{'entries':>9}{'median s':>10}"
              f"{'PG CPU s':>10}   rounds (wall)")  # fmt: skip
        for repo, what in ((REPO, "1st repository"), (SECOND, "2nd repository")):
            entries = int(results["after", repo]["report"]["reembedded"])  # type: ignore[index]
            med = {label: statistics.median(walls[label, repo]) for label in trees}
            for label in trees:
                name = f"{what}, " + (
                    f"before ({args.before[:7]})" if label == "before" else "after"
                )
                print(f"  {name:<40}{entries:>9,}{med[label]:>10.1f}"
                      f"{statistics.median(cpus[label, repo]):>10.1f}   "
                      f"{', '.join(f'{w:.1f}' for w in walls[label, repo])}")  # fmt: skip
            print(f"  {what}: speed-up {med['before'] / med['after']:.2f}x; load {load()}")
            for label in trees:
                res = results[label, repo]
                print(f"  {what}, {label}, the sync's process: peak RSS "
                      f"{float(res['peak_rss_mb']):.0f} MB, {float(res['rss_before_mb']):.0f} MB "  # type: ignore[arg-type]
                      "before the call (last round)")  # fmt: skip
                phases = results[label, repo]["report"]["phases_s"]  # type: ignore[index]
                print(f"  {what}, {label}, where the time went (s): "
                      + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))  # fmt: skip

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
