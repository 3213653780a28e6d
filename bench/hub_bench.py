"""Code-node pipeline benchmark on Django 5.2 (~2,800 files): before and after in one run.

    uv run python bench/hub_bench.py [--before REF|PATH] [--cold-runs 1] [--runs 3]
        [--after REF|PATH] [--workers 2] [--edits 3]

The hub's three stages (no Dagster, no catalog: that is bench/readme_bench.py), each cold
build in its own process (``_hub_cold_driver.py``) against a fresh database of one real
PostgreSQL, for two trees: ``--before`` (a commit archived into a temp dir, default the
session-start commit 282bd6b, or a checkout's path) and this one. Rounds alternate the
order of the trees so a burst of load elsewhere hits both alike. Prints, all wall clock,
medians over rounds: the raw tree-sitter baseline on 1 and on N processes side by side,
the cold build by stage and its ratio to the 1-process baseline, CPU seconds of the build
and of PostgreSQL, peak RSS of the main process and of its process tree (with the parse
workers), then a no-op refresh and one-file edits on the built model. Exits non-zero when
the after tree's cold builds stored another model (nodes, edges, states, markdown, and
every hub_nodes/hub_files row as readers see it) than its general (incremental) paths
give, byte for byte, timestamps aside; before == after is printed too. A before tree older than the
callers cap (1a01ef9) stores other states, so compare against dba0dd5 or later.
"""

from __future__ import annotations

import argparse
import ast
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
from _baseline import BenchFailure, raw_baseline
from _corpus import fetch_sdist
from _proc import postgres_cpu_s, postgres_servers, run_measured, stop_postgres

from kgents_assets.hub.discovery import extract_source, package_dir_checker
from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.scan import FileStat, walk_source_files
from kgents_assets.store import open_store

REPO = "django"
HERE = Path(__file__).resolve().parent
DRIVER = HERE / "_hub_cold_driver.py"
DEFAULT_BEFORE = "282bd6b"


def python_files(root: Path) -> list[str]:
    rules = IgnoreRules.for_repo(root)
    return sorted(
        s.path
        for s in walk_source_files(root, rules)
        if isinstance(s, FileStat) and s.path.endswith(".py")
    )


def ast_counts(root: Path, files: list[str]) -> tuple[int, int, int, int]:
    """(files compared, files matching, nodes by ast, nodes by discovery) where ast parses."""
    is_pkg = package_dir_checker(root)
    compared = matching = total_ast = total_ts = 0
    for rel in files:
        data = (root / rel).read_bytes()
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue
        expected = 1 + sum(
            isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            for n in ast.walk(tree)
        )
        found = len(extract_source(rel, data, "python", is_pkg).nodes)
        compared += 1
        matching += expected == found
        total_ast += expected
        total_ts += found
    return compared, matching, total_ast, total_ts


def pick_edit_target(root: Path, files: list[str]) -> str:
    """A mid-sized module: the kind of file a person edits."""
    sizes = sorted(((root / f).stat().st_size, f) for f in files if "/tests/" not in f)
    return sizes[len(sizes) * 3 // 4][1]


def tree_of(before: str, work: Path) -> Path:
    """A checkout's path as given, or a commit archived (git archive) into ``work``."""
    if Path(before).is_dir():
        return Path(before).resolve()
    target = work / f"tree-{before.replace('/', '_')}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", before], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _database(server_url: str) -> str:
    name = f"hub_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def cold_run(
    tree: Path,
    source: Path,
    work: Path,
    server_url: str,
    pg_dir: Path,
    args: argparse.Namespace,
    target: str,
    general: bool = False,
) -> dict[str, Any]:
    root = work / f"django-{uuid.uuid4().hex[:8]}"
    shutil.copytree(source, root)
    url = _database(server_url)
    env = {**os.environ, "PYTHONPATH": str(tree), "KGENTS_HOME": str(work / "home")}
    pg0 = postgres_cpu_s(pg_dir)
    measured = run_measured(
        [sys.executable, str(DRIVER), url, str(root), REPO, str(args.workers), str(args.edits),
         target, *(["--general"] if general else [])],
        env,
        cwd=work,
    )  # fmt: skip
    pg_cpu = postgres_cpu_s(pg_dir) - pg0
    shutil.rmtree(root, ignore_errors=True)
    if measured.returncode != 0:
        raise BenchFailure(f"cold build with {tree} failed:\n{measured.output[-3000:]}")
    out: dict[str, Any] = json.loads(measured.output.strip().splitlines()[-1])
    if Path(out["code"]).resolve() != tree.resolve():
        raise BenchFailure(f"the driver imported {out['code']}, not {tree}")
    out.update(
        total_s=out["files_s"] + out["states_s"] + out["markdown_s"],
        wall_s=measured.wall_s,
        cpu_s=measured.cpu_s,
        pg_cpu_s=pg_cpu,
        main_peak_mb=measured.main_peak_mb,
        tree_peak_mb=measured.tree_peak_mb,
    )
    return out


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--runs", type=int, default=3, help="raw baseline runs")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold builds per tree")
    parser.add_argument("--edits", type=int, default=3, help="no-op and edit runs per build")
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="commit or checkout path")
    parser.add_argument("--after", default=str(HERE.parent), help="commit or checkout path")
    parser.add_argument("--corpus", default="django==5.2", help="an sdist, NAME==VERSION")
    parser.add_argument(
        "--work-dir",
        default=None,
        help="where the copies, the database and the markdown go (default: the system temp "
        "directory; on this project's VM, /tmp makes directories ~40x slower than /work)",
    )
    args = parser.parse_args()
    # line by line: progress shows while it runs, and forked pools inherit no pending output
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"load average at start: {load()}")

    name, _, version = args.corpus.partition("==")
    source = fetch_sdist(name, version)
    files = python_files(source)
    paths = [str(source / f) for f in files]
    print(
        f"corpus: {args.corpus} sdist, {len(files):,} Python files, "
        f"{sum((source / f).stat().st_size for f in files) / 1e6:.1f} MB"
    )
    raw_baseline(paths[:200])  # warm the page cache before the baselines
    raw1, rawn = [], []
    for _ in range(args.runs):
        raw1.append(raw_baseline(paths)[0])
        rawn.append(raw_baseline(paths, args.workers)[0])
    raw, raw_n = statistics.median(raw1), statistics.median(rawn)

    work = Path(tempfile.mkdtemp(prefix="kg-hub-bench-", dir=args.work_dir))
    print(f"work directory: {work}")
    try:
        trees = {"before": tree_of(args.before, work), "after": tree_of(args.after, work)}
        store = open_store(None, data_dir=work / "pg")
        pg_dir = postgres_servers(work)[0]
        target = pick_edit_target(source, files)
        results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for i in range(args.cold_runs):
            order = ["before", "after"] if i % 2 == 0 else ["after", "before"]
            for label in order:
                results[label].append(
                    cold_run(trees[label], source, work, store.url, pg_dir, args, target)
                )
                print(f"  round {i + 1}, {label}: {results[label][-1]['total_s']:.1f} s "
                      f"(load {load()})", flush=True)  # fmt: skip
        # the after tree once more on its general (incremental) paths: the equality check
        general = cold_run(trees["after"], source, work, store.url, pg_dir, args, target, True)
        print(f"  after, general paths: {general['total_s']:.1f} s (load {load()})")
        report(results, general, raw, raw_n, len(files), args, trees)
    finally:
        for pg in postgres_servers(work):
            stop_postgres(pg)
        shutil.rmtree(work, ignore_errors=True)

    compared, matching, n_ast, n_ts = ast_counts(source, files)
    print(
        f"{'ast node counts: files matching':<46}{matching:>6,}/{compared:,}  "
        f"(nodes ast {n_ast:,}, ours {n_ts:,})"
    )
    print(f"load average at end: {load()}")
    if matching != compared or n_ast != n_ts:
        raise BenchFailure(
            f"node counts differ from Python's ast in {compared - matching} files "
            f"({n_ast:,} vs {n_ts:,} nodes)"
        )


def report(
    results: dict[str, list[dict[str, Any]]],
    general: dict[str, Any],
    raw: float,
    raw_n: float,
    n_files: int,
    args: argparse.Namespace,
    trees: dict[str, Path],
) -> None:
    def med(label: str, key: str) -> float:
        return statistics.median(r[key] for r in results[label])

    print(f"\nbefore = {args.before} ({trees['before']}), after = {args.after}")
    print(f"rounds: {args.cold_runs} cold build(s) per tree, alternating; medians\n")
    print(f"{'measure (wall clock, medians)':<46}{'before':>12}{'after':>12}  target")
    print(f"{'raw tree-sitter parse+query, 1 process':<46}{raw:>11.2f}s")
    print(f"{f'raw tree-sitter parse+query, {args.workers} processes':<46}{raw_n:>11.2f}s")
    rows = [
        ("cold build, 3 stages", "total_s", ""),
        ("  code_nodes (scan, hash, parse, index)", "files_s", ""),
        ("  node_state (resolve, tools, store)", "states_s", ""),
        ("  node_markdown", "markdown_s", ""),
    ]
    for name, key, _ in rows:
        print(f"{name:<46}{med('before', key):>11.2f}s{med('after', key):>11.2f}s")
    for name, key in [("cold / raw, 1 process", "total_s")]:
        b, a = med("before", key) / raw, med("after", key) / raw
        print(f"{name:<46}{b:>11.2f}x{a:>11.2f}x  <= 4x")
    print(
        f"{f'cold / raw, {args.workers} processes':<46}"
        f"{med('before', 'total_s') / raw_n:>11.2f}x{med('after', 'total_s') / raw_n:>11.2f}x"
    )
    for name, key in [("  code_nodes / raw", "files_s"), ("  node_state / raw", "states_s"),
                      ("  node_markdown / raw", "markdown_s")]:  # fmt: skip
        print(f"{name:<46}{med('before', key) / raw:>11.2f}x{med('after', key) / raw:>11.2f}x")
    print(
        f"{'cold ms per file':<46}{med('before', 'total_s') / n_files * 1e3:>10.2f}ms"
        f"{med('after', 'total_s') / n_files * 1e3:>10.2f}ms  <= 5 ms"
    )
    print(f"{'process wall incl. start':<46}{med('before', 'wall_s'):>11.2f}s"
          f"{med('after', 'wall_s'):>11.2f}s")  # fmt: skip
    print(f"{'CPU, build process + workers':<46}{med('before', 'cpu_s'):>11.2f}s"
          f"{med('after', 'cpu_s'):>11.2f}s")  # fmt: skip
    print(f"{'CPU, PostgreSQL':<46}{med('before', 'pg_cpu_s'):>11.2f}s"
          f"{med('after', 'pg_cpu_s'):>11.2f}s")  # fmt: skip
    print(f"{'peak RSS, main process':<46}{med('before', 'main_peak_mb'):>10.0f}MB"
          f"{med('after', 'main_peak_mb'):>10.0f}MB  <= 400 MB")  # fmt: skip
    print(f"{'peak RSS, main + parse workers':<46}{med('before', 'tree_peak_mb'):>10.0f}MB"
          f"{med('after', 'tree_peak_mb'):>10.0f}MB")  # fmt: skip
    if args.edits:
        for name, key in [("no-op refresh", "noop_s"), ("one-file edit, full stat scan",
                          "edit_scan_s"), ("one-file edit, change set", "edit_changeset_s")]:  # fmt: skip
            print(
                f"{name:<46}{med('before', key) * 1e3:>10.1f}ms{med('after', key) * 1e3:>10.1f}ms"
            )
    counts = {(r["nodes"], r["states"], r["markdown"]) for rs in results.values() for r in rs}
    print(f"{'nodes / states / markdown files':<46}{' | '.join(str(c) for c in counts)}")
    after = {json.dumps(r["digest"], sort_keys=True) for r in results["after"]}
    before = {json.dumps(r["digest"], sort_keys=True) for r in results["before"]}
    same = after == {json.dumps(general["digest"], sort_keys=True)}
    print(
        f"{'after: first-build paths == general paths':<46}{'equal' if same else 'DIFFERENT':>12}"
    )
    # informational: the before tree resolved same-named twins (a property and its setter)
    # in storage order, so its cold model depends on row order; see resolution.exact
    print(f"{'before == after (cold)':<46}{'equal' if before == after else 'different':>12}")
    if not same:
        raise BenchFailure(
            "the first-build paths stored another model than the general paths:\n"
            f"  first build: {results['after']}\n  general: {general['digest']}"
        )


if __name__ == "__main__":
    main()
