"""Code-node pipeline benchmark on Django 5.2 (~2,800 files), every figure in one run.

    uv run python bench/hub_bench.py [--workers N] [--runs 5] [--edits 5]

The hub's three stages called in-process (no Dagster, no process start: that is
bench/readme_bench.py), into a real PostgreSQL. Prints, all wall clock, medians over runs:
the raw tree-sitter baseline on 1 and on N processes side by side, the cold build by stage
and its ratio to both baselines, the no-op refresh, a one-file edit (through a change set
and through a full stat scan) next to the raw parse of the same edited file, node counts
against Python's ast, peak memory. Exits non-zero when a check it prints fails.
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _baseline import BenchFailure, raw_baseline
from _corpus import fetch_sdist
from _proc import stop_postgres

from kgents_assets.hub.discovery import extract_source, package_dir_checker
from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.refresh_markdown import refresh_markdown
from kgents_assets.hub.refresh_states import refresh_states
from kgents_assets.hub.scan import FileStat, walk_source_files
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store, open_store

REPO = "django"


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


def pick_edit_target(root: Path, files: list[str]) -> Path:
    """A mid-sized module: the kind of file a person edits."""
    sizes = sorted(((root / f).stat().st_size, f) for f in files if "/tests/" not in f)
    return root / sizes[len(sizes) * 3 // 4][1]


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--runs", type=int, default=5, help="baseline and no-op runs")
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()

    source = fetch_sdist("django", "5.2")
    work = Path(tempfile.mkdtemp(prefix="kg-bench-"))
    root = work / "django"
    shutil.copytree(source, root)
    files = python_files(root)
    paths = [str(root / f) for f in files]
    print(
        f"corpus: Django 5.2 sdist, {len(files):,} Python files, "
        f"{sum((root / f).stat().st_size for f in files) / 1e6:.1f} MB"
    )

    raw_baseline(paths[:200])  # warm the page cache before the baselines
    raw1, rawn = [], []
    for _ in range(args.runs):
        raw1.append(raw_baseline(paths)[0])
        rawn.append(raw_baseline(paths, args.workers)[0])
    raw, raw_n = statistics.median(raw1), statistics.median(rawn)

    store = open_store(None, data_dir=work / "pg")
    try:
        measure(store, root, files, args, raw, raw_n)
    finally:
        stop_postgres(work / "pg")
        shutil.rmtree(work, ignore_errors=True)


def measure(
    store: Store, root: Path, files: list[str], args: argparse.Namespace, raw: float, raw_n: float
) -> None:
    add_repository(store, REPO, str(root))
    started = time.perf_counter()
    files_report = refresh_files(store, root, repo=REPO, workers=args.workers)
    t_files = time.perf_counter() - started
    states_report = refresh_states(store, repo=REPO)
    t_states = time.perf_counter() - started - t_files
    md_report = refresh_markdown(store, root, repo=REPO)
    cold = time.perf_counter() - started
    t_md = cold - t_files - t_states
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    noop_times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        report = refresh_repository(store, root, repo=REPO)
        noop_times.append(time.perf_counter() - t0)
        if report.files.files_parsed or report.states.nodes_processed:
            raise BenchFailure(f"a no-op refresh did work: {report.files}, {report.states}")

    target = pick_edit_target(root, files)
    rel = target.relative_to(root).as_posix()
    edit_scan, edit_changeset, edit_raw = [], [], []
    for i in range(args.edits):
        text = target.read_text()
        target.write_text(text + f"\n\ndef bench_added_{i}(x):\n    return x + {i}\n")
        t0 = time.perf_counter()
        r = refresh_repository(store, root, repo=REPO)
        edit_scan.append(time.perf_counter() - t0)
        if r.files.files_parsed != 1:
            raise BenchFailure(f"a one-file edit parsed {r.files.files_parsed} files")
        # the baseline for this edit: the raw parse of the same file, as edited
        edit_raw.append(raw_baseline([str(target)])[0])
        target.write_text(
            text + f"\n\ndef bench_added_{i}(x):\n    if x:\n        return x\n    return {i}\n"
        )
        t0 = time.perf_counter()
        r = refresh_repository(store, root, repo=REPO, changed_paths=[rel])
        edit_changeset.append(time.perf_counter() - t0)
        if r.files.files_parsed != 1:
            raise BenchFailure(f"a one-file change set parsed {r.files.files_parsed} files")
        edit_raw.append(raw_baseline([str(target)])[0])

    compared, matching, n_ast, n_ts = ast_counts(root, files)

    print(f"\n{'measure (wall clock, medians)':<52}{'value':>12}  target")
    print(f"{'raw tree-sitter parse+query, 1 process':<52}{raw:>10.2f} s")
    print(f"{f'raw tree-sitter parse+query, {args.workers} processes':<52}{raw_n:>10.2f} s")
    print(f"{'cold build, total (one run)':<52}{cold:>10.2f} s")
    print(
        f"{'  discovery (scan, hash, parse, index)':<52}{t_files:>10.2f} s  workers={args.workers}"
    )
    print(f"{'  node state (resolve, tools, store)':<52}{t_states:>10.2f} s")
    print(f"{'  markdown':<52}{t_md:>10.2f} s")
    print(f"{'cold / raw, 1 process':<52}{cold / raw:>11.2f}x  <= 4x")
    print(f"{f'cold / raw, {args.workers} processes':<52}{cold / raw_n:>11.2f}x")
    print(f"{'cold ms per file':<52}{cold / len(files) * 1e3:>10.2f} ms  <= 5 ms")
    print(
        f"{'nodes / states / markdown files':<52}{files_report.nodes_added:>6,} / "
        f"{states_report.states_added:,} / {md_report.written:,}"
    )
    noop = statistics.median(noop_times)
    print(f"{'no-op refresh':<52}{noop * 1e3:>10.1f} ms")
    print(f"{'no-op refresh per file':<52}{noop / len(files) * 1e3:>10.3f} ms  <= 0.1 ms")
    print(f"{'one-file edit via change set':<52}{median_ms(edit_changeset):>10.1f} ms  <= 150 ms")
    print(f"{'one-file edit via full stat scan':<52}{median_ms(edit_scan):>10.1f} ms")
    print(f"{'  baseline: raw parse+query of the edited file':<52}{median_ms(edit_raw):>10.1f} ms")
    print(
        f"{'ast node counts: files matching':<52}{matching:>6,}/{compared:,}  "
        f"(nodes ast {n_ast:,}, ours {n_ts:,})"
    )
    print(f"{'peak RSS, main process':<52}{peak_mb:>9.0f} MB")
    print(f"{'peak RSS, largest parse worker':<52}{peak_children_mb:>9.0f} MB")
    if matching != compared or n_ast != n_ts:
        raise BenchFailure(
            f"node counts differ from Python's ast in {compared - matching} files "
            f"({n_ast:,} vs {n_ts:,} nodes)"
        )


if __name__ == "__main__":
    main()
