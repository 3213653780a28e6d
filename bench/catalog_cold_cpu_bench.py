"""The main process's CPU on a cold catalog load of Django, the code before and after
(issue 12), one run.

    uv run python bench/catalog_cold_cpu_bench.py --before-dir DIR --pg SOCKET_DIR \
        [--template postgres] [--rounds 1] [--repo django] [--no-index] [--text-changed]

``DIR``: a checkout of the code before (``git worktree add DIR <commit>``, outside this
tree). ``SOCKET_DIR``: a running pgserver whose database ``--template`` holds a store with
Django's node states refreshed as repository ``django`` (e.g. a ``kg hub --once`` of
bench/.cache/django-5.2); nothing is written to it: each sync runs on a fresh clone
(``CREATE DATABASE ... TEMPLATE``) from which the catalog of ``django`` is deleted first,
then ``sync_catalog(store, HashingEmbedder(), repo="django", full=True)`` in a process of
its own running one tree (cwd outside this tree, PYTHONPATH the tree). Printed per sync:
wall clock, the sync's phases and the process's own CPU seconds (user + system from
getrusage: the embedding pool's workers and PostgreSQL are other processes), the trees
alternating (the next round starts with the other one); medians; the load average.
After each round the two clones' catalogs are compared (entries with every column
but timestamps and the tsvector as text, edges, vectors as text): exits non-zero when
they differ.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent

DRIVER = r"""
import json, resource, sys, time
from kgents_assets.store.database import open_store
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.catalog.embedders.hashing import HashingEmbedder

def cpu(who=resource.RUSAGE_SELF):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime

def main():
    if len(sys.argv) > 2 and sys.argv[2] == "--no-index":
        # the HNSW build is not what is compared: leave it out (both trees alike)
        import kgents_assets.catalog.storage as storage
        storage.ensure_vector_index = lambda conn, dim: False
    store = open_store()
    with store.transaction() as conn:
        conn.execute(
            "DELETE FROM catalog_relationships WHERE src IN (SELECT id FROM catalog_entries "
            "WHERE repo=%s) OR dst IN (SELECT id FROM catalog_entries WHERE repo=%s)",
            (sys.argv[1], sys.argv[1]))
        conn.execute("DELETE FROM catalog_embeddings WHERE entry_id IN "
                     "(SELECT id FROM catalog_entries WHERE repo=%s)", (sys.argv[1],))
        conn.execute("DELETE FROM catalog_entries WHERE repo=%s", (sys.argv[1],))
    with store.connect() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE catalog_entries")
        conn.execute("VACUUM ANALYZE catalog_embeddings")
        conn.execute("VACUUM ANALYZE catalog_relationships")
    c0, t0 = cpu(), time.perf_counter()
    report = sync_catalog(store, HashingEmbedder(), repo=sys.argv[1], full=True)
    wall, used = time.perf_counter() - t0, cpu() - c0
    # the embedding workers: processes this one started and reaped
    workers = cpu(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "cpu": used, "workers_cpu": workers,
                      "added": report.added, "phases": report.phases_s}))

if __name__ == "__main__":
    main()
"""

STORED = {
    "entries": "SELECT id, entity_type, name, version, description, keywords, status, origin, "
    "author, node_id, path, body, deprecation_reason, metadata::text, text_hash, fingerprint, "
    "repo, tsv::text FROM catalog_entries ORDER BY id",
    "edges": "SELECT src, kind, dst FROM catalog_relationships ORDER BY 1, 2, 3",
    "vectors": "SELECT entry_id, embedder, dim, text_hash, embedding::text "
    "FROM catalog_embeddings ORDER BY 1",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'catalog_%' "
    "ORDER BY 1",
}
#: With --text-changed (a change meant to alter entries' text, e.g. outlines): the same
#: entries, edges and vectors, compared by everything but text, text hash and vector.
SHAPE = {
    "entries": "SELECT id, entity_type, name, version, description, keywords, status, origin, "
    "author, node_id, path, deprecation_reason, metadata::text, repo FROM catalog_entries "
    "ORDER BY id",
    "edges": STORED["edges"],
    "vectors": "SELECT entry_id, embedder, dim FROM catalog_embeddings ORDER BY 1",
    "indexes": STORED["indexes"],
}
SIZES = (
    "SELECT round(sum(length(body)) / 1e6, 1), round(sum(pg_column_size(tsv)) / 1e6, 1), "
    "round(pg_total_relation_size('catalog_entries') / 1e6, 1) FROM catalog_entries"
)
#: Phases of the write (everything but the HNSW build and the closing ANALYZE)
NOT_WRITE = ("index", "analyze")


def url(pg: str, db: str) -> str:
    return f"postgresql://postgres@/{db}?host={pg}"


def clone(pg: str, template: str, name: str) -> None:
    with psycopg.connect(url(pg, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def drop(pg: str, name: str) -> None:
    with psycopg.connect(url(pg, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def server_cpu(pg: str) -> float | None:
    """CPU seconds of the server's ended backends (the postmaster's reaped children), or
    None when its process cannot be read. A sync's backends all end with its process."""
    try:
        pid = (Path(pg) / "postmaster.pid").read_text().split()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def run_sync(
    tree: Path, pg: str, db: str, script: Path, repo: str, no_index: bool
) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree), "KGENTS_DATABASE_URL": url(pg, db)}
    before = server_cpu(pg)
    with tempfile.TemporaryDirectory() as home:
        env["KGENTS_HOME"] = home
        out = subprocess.run(
            [sys.executable, str(script), repo, *(["--no-index"] if no_index else [])], env=env, cwd=home, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"sync in {tree} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    after = server_cpu(pg)
    for _ in range(50):  # the backends end just after their client: wait until reaped
        time.sleep(0.1)
        now = server_cpu(pg)
        if now == after:
            break
        after = now
    if before is not None and after is not None:
        # includes the driver's delete + VACUUM of the clone, alike in both trees
        result["server_cpu"] = after - before
    return result


def stored(pg: str, db: str, queries: dict[str, str]) -> dict[str, str]:
    """A digest of each table's rows (md5 of the ordered text), computed by the server."""
    with psycopg.connect(url(pg, db)) as conn:
        out = {}
        row = conn.execute(SIZES).fetchone()
        print(f"  {db}: entry bodies {row[0]} MB, tsvectors {row[1]} MB, catalog_entries "
              f"with its indexes and TOAST {row[2]} MB" if row else "", flush=True)  # fmt: skip
        for name, query in queries.items():
            row = conn.execute(
                f"SELECT count(*), md5(string_agg(t::text, E'\\n')) FROM ({query}) t"
            ).fetchone()
            out[name] = f"{row[0]} rows, md5 {row[1]}" if row else "?"
        return out


def median_of(results: list[dict[str, object]], key: str) -> str:
    values = [float(r[key]) for r in results if key in r]  # type: ignore[arg-type]
    return f"{statistics.median(values):6.1f} s" if values else "   n/a"


def write_s(result: dict[str, object]) -> float:
    phases: dict[str, float] = result["phases"]  # type: ignore[assignment]
    return sum(float(v) for k, v in phases.items() if k not in NOT_WRITE)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before-dir", type=Path, required=True)
    parser.add_argument("--pg", required=True, help="socket directory of a running pgserver")
    parser.add_argument("--template", default="postgres")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--repo", default="django", help="the repository's name in the store")
    parser.add_argument(
        "--no-index", action="store_true", help="skip the HNSW build (in both trees)"
    )
    parser.add_argument(
        "--text-changed",
        action="store_true",
        help="the change alters entries' text by design: compare the catalogs by everything "
        "but text (same entries, edges, vectors and indexes) and print their sizes",
    )
    args = parser.parse_args()
    queries = SHAPE if args.text_changed else STORED
    trees = {"before": args.before_dir.resolve(), "after": ROOT}
    runs: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
    differing: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "cold_cpu_driver.py"
        script.write_text(DRIVER)
        for n in range(args.rounds):
            order = ["before", "after"] if n % 2 == 0 else ["after", "before"]
            for name in order:
                db = f"cold_cpu_{name}"
                clone(args.pg, args.template, db)
                result = run_sync(trees[name], args.pg, db, script, args.repo, args.no_index)
                runs[name].append(result)
                print(f"round {n + 1} {name}: {json.dumps(result)}  load {os.getloadavg()}",
                      flush=True)  # fmt: skip
            digests = {name: stored(args.pg, f"cold_cpu_{name}", queries) for name in trees}
            for name in trees:
                drop(args.pg, f"cold_cpu_{name}")
            if digests["before"] != digests["after"]:
                differing.append(n + 1)
            print(f"round {n + 1} stored the same: {digests['before'] == digests['after']}",
                  flush=True)  # fmt: skip
    print(f"\nmedians over {args.rounds} round(s), load average {os.getloadavg()}")
    for name, results in runs.items():
        # a phase one tree has and the other lacks (e.g. "keyword index") counts 0 there
        names = dict.fromkeys(p for rs in runs.values() for r in rs for p in r["phases"])  # type: ignore[attr-defined]
        phases = {
            phase: statistics.median(float(r["phases"].get(phase, 0.0)) for r in results)  # type: ignore[attr-defined]
            for phase in names
        }
        print(f"  {name:6} wall {statistics.median(float(r['wall']) for r in results):7.1f} s  "  # type: ignore[arg-type]
              f"main-process CPU {statistics.median(float(r['cpu']) for r in results):6.1f} s  "  # type: ignore[arg-type]
              f"write phase {statistics.median(write_s(r) for r in results):6.1f} s  "
              f"embedding workers' CPU {median_of(results, 'workers_cpu')}  "
              f"PostgreSQL CPU {median_of(results, 'server_cpu')}  "
              f"phases {json.dumps(phases)}")  # fmt: skip
    same = not differing
    for table in queries:
        mark = "same" if digests["before"][table] == digests["after"][table] else "DIFFERENT"
        print(f"  stored {table}: {mark} ({digests['after'][table]})")
    if differing:
        print(f"  STORED CATALOGS DIFFER in round(s) {differing}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
