"""Stage 2 (node_state) first build alone, on Django 5.2: before and after in one run.

    uv run python bench/state_first_build_bench.py --before PATH [--after PATH]
        [--rounds 4] [--work-dir DIR] [--profile]

Stage 1 of the before tree runs once into a template database; every round clones it
(``CREATE DATABASE ... TEMPLATE``) and runs ``refresh_states`` in a fresh process of each
tree (``PYTHONPATH=<tree>``, cwd outside both trees) after that tree's migrations (none
for the before tree; for the after tree, what an upgrade applies), the trees alternating
their order from round to round so a burst of load elsewhere hits both alike. Prints medians of the
stage's wall clock (inside the process), the process's wall and CPU, PostgreSQL's CPU and
the process's peak RSS, with the load average. Both trees get the same ``now`` and run
id, so their models must be equal byte for byte: states (kv text as readers get it),
edges, traces (in id order), marks and ``state_source``; the bench exits non-zero when
they are not. ``--profile`` adds one cProfile run of the after tree's stage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _baseline import BenchFailure
from _corpus import fetch_sdist
from _proc import postgres_cpu_s, postgres_servers, run_measured, stop_postgres

REPO = "django"
HERE = Path(__file__).resolve().parent

DRIVER = """
import json, sys, time
from datetime import UTC, datetime
from kgents_assets.store import Store
from kgents_assets.hub.refresh_states import refresh_states
store = Store(url=sys.argv[1])
store.migrate()  # this tree's migrations on the before tree's stage-1 store (an upgrade)
now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
prof = None
if len(sys.argv) > 2:
    import cProfile
    prof = cProfile.Profile()
    prof.enable()
t = time.perf_counter()
r = refresh_states(store, repo=sys.argv[3] if len(sys.argv) > 3 else "django", now=now,
                   run_id="bench")
s = time.perf_counter() - t
if prof is not None:
    prof.disable()
    prof.dump_stats(sys.argv[2])
print(json.dumps({"stage_s": s, "first_build": r.first_build, "nodes": r.nodes_processed,
                  "edges": r.edges_written}))
"""

DIGEST_QUERIES = {
    "states": 'SELECT key, value::text FROM kv WHERE repo = %s ORDER BY key COLLATE "C"',
    "edges": "SELECT src_id, dst_id, confidence::text FROM hub_edges WHERE repo = %s "
    'ORDER BY src_id COLLATE "C", dst_id COLLATE "C"',
    "traces": "SELECT run_id, node_id, backend, signals::text, decisions::text "
    "FROM hub_traces WHERE repo = %s ORDER BY id",
    "marks": "SELECT node_id, stage, reason FROM hub_dirty WHERE repo = %s "
    'ORDER BY node_id COLLATE "C", stage',
    "state_source": "SELECT node_id, md5(coalesce(state_source, '<null>')) FROM hub_nodes "
    'WHERE repo = %s ORDER BY node_id COLLATE "C"',
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def db_url(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def digest(url: str) -> dict[str, str]:
    """sha256 of each part of the stage's output, read row by row from a named cursor."""
    out: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        for part, query in DIGEST_QUERIES.items():
            h = hashlib.sha256()
            n = 0
            with conn.cursor(name=f"digest_{part}") as cur:
                cur.itersize = 5000
                cur.execute(query, (REPO,))
                for row in cur:
                    h.update(json.dumps(row).encode())
                    n += 1
            out[part] = f"{n} rows {h.hexdigest()[:16]}"
    return out


TEMPLATE_DRIVER = """
import sys
from pathlib import Path
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
store = Store(url=sys.argv[1])
store.migrate()
add_repository(store, sys.argv[2], sys.argv[3])
report = refresh_files(store, Path(sys.argv[3]), repo=sys.argv[2], workers=2)
print(report.nodes_added)
"""


def build_template(admin_url: str, source: Path, work: Path, name: str, tree: Path) -> None:
    """Stage 1 of ``tree`` (the before tree: its schema and rows, which the after tree
    migrates as an upgrade would) into database ``name``, on a copy of the corpus."""
    root = work / "corpus"
    shutil.copytree(source, root)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    done = subprocess.run(
        [sys.executable, "-c", TEMPLATE_DRIVER, db_url(admin_url, name), REPO, str(root)],
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"template: stage 1 of {tree} stored {int(done.stdout.split()[-1]):,} nodes "
          f"(load {load()})")  # fmt: skip


def run_round(
    tree: Path, admin_url: str, template: str, work: Path, pg_dir: Path, profile: Path | None
) -> dict[str, Any]:
    name = f"s2_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = db_url(admin_url, name)
    try:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        args = [sys.executable, "-c", DRIVER, url]
        if profile is not None:
            args += [str(profile), REPO]
        pg0 = postgres_cpu_s(pg_dir)
        m = run_measured(args, env, work)
        pg_cpu = postgres_cpu_s(pg_dir) - pg0
        if m.returncode != 0:
            raise BenchFailure(f"stage 2 failed in {tree}:\n{m.output}")
        out = json.loads(m.output.strip().splitlines()[-1])
        if not out["first_build"]:
            raise BenchFailure(f"{tree}: not a first build: {out}")
        return {
            **out,
            "wall_s": m.wall_s,
            "cpu_s": m.cpu_s,
            "pg_cpu_s": pg_cpu,
            "peak_mb": m.main_peak_mb,
            "digest": digest(url),
        }
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="a checkout's path")
    parser.add_argument("--after", default=str(HERE.parent), help="a checkout's path")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--corpus", default="django==5.2", help="an sdist, NAME==VERSION")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--profile", action="store_true", help="one cProfile run of after")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"load average at start: {load()}")
    name, _, version = args.corpus.partition("==")
    source = fetch_sdist(name, version)
    trees = {"before": Path(args.before).resolve(), "after": Path(args.after).resolve()}
    work = Path(tempfile.mkdtemp(prefix="kg-s2-bench-", dir=args.work_dir))
    from kgents_assets.store import open_store

    try:
        store = open_store(None, data_dir=work / "pg")
        pg_dir = postgres_servers(work)[0]
        admin = db_url(store.url, "postgres")
        template = "s2_template"
        build_template(admin, source, work, template, trees["before"])
        results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for i in range(args.rounds):
            order = ["before", "after"] if i % 2 == 0 else ["after", "before"]
            for label in order:
                r = run_round(trees[label], admin, template, work, pg_dir, None)
                results[label].append(r)
                print(
                    f"  round {i + 1} {label:<6} stage {r['stage_s']:.2f} s, wall "
                    f"{r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s, pg cpu {r['pg_cpu_s']:.2f} s, "
                    f"peak {r['peak_mb']:.0f} MB (load {load()})"
                )
        if args.profile:
            prof = work / "after.prof"
            run_round(trees["after"], admin, template, work, pg_dir, prof)
            import pstats

            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(40)
            pstats.Stats(str(prof)).sort_stats("tottime").print_stats(30)
        report(results, trees)
    finally:
        for pg in postgres_servers(work):
            stop_postgres(pg)
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at end: {load()}")


def report(results: dict[str, list[dict[str, Any]]], trees: dict[str, Path]) -> None:
    def med(label: str, key: str) -> float:
        return statistics.median(r[key] for r in results[label])

    print(f"\nbefore = {trees['before']}, after = {trees['after']}; medians of "
          f"{len(results['after'])} alternating rounds")  # fmt: skip
    print(f"{'measure':<40}{'before':>10}{'after':>10}")
    for label, key, unit in [
        ("stage 2 (refresh_states), wall", "stage_s", "s"),
        ("process wall incl. start", "wall_s", "s"),
        ("process CPU", "cpu_s", "s"),
        ("PostgreSQL CPU", "pg_cpu_s", "s"),
        ("peak RSS, process", "peak_mb", "MB"),
    ]:
        print(f"{label:<40}{med('before', key):>9.2f}{unit}{med('after', key):>9.2f}{unit}")
    digests = {label: {json.dumps(r["digest"]) for r in rs} for label, rs in results.items()}
    for part, value in results["after"][0]["digest"].items():
        print(f"  {part:<38}{value}")
    same = len(digests["after"]) == 1 and digests["before"] == digests["after"]
    print(f"{'before == after (every round)':<40}{'equal' if same else 'DIFFERENT':>10}")
    if not same:
        raise BenchFailure(f"the trees stored different models: {digests}")


if __name__ == "__main__":
    main()
