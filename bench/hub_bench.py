"""Code-node pipeline benchmark on Django 5.2 (~2,800 files), every figure in one run.

    uv run python bench/hub_bench.py [--workers N]

Prints: raw tree-sitter parse+extract (the baseline), cold materialization (discovery +
state + markdown, into a real PostgreSQL), its ratio to the baseline and files/s, the
no-op refresh per file, a one-file edit, node counts against Python's ast, peak memory.
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

import tree_sitter as ts

sys.path.insert(0, str(Path(__file__).parent))
from _corpus import fetch_sdist

from kgents_assets.hub.discovery import extract_source, package_dir_checker
from kgents_assets.hub.extract_python import QUERY
from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.languages import ts_parser, ts_query
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.refresh_markdown import refresh_markdown
from kgents_assets.hub.refresh_states import refresh_states
from kgents_assets.hub.scan import FileStat, walk_source_files
from kgents_assets.store import open_store


def python_files(root: Path) -> list[str]:
    rules = IgnoreRules.for_repo(root)
    return sorted(
        s.path
        for s in walk_source_files(root, rules)
        if isinstance(s, FileStat) and s.path.endswith(".py")
    )


def raw_parse_extract(root: Path, files: list[str]) -> float:
    """Baseline: read, tree-sitter parse and run the extraction query; nothing else."""
    query = ts_query("python", QUERY)
    parser = ts_parser("python")
    started = time.perf_counter()
    for rel in files:
        tree = parser.parse((root / rel).read_bytes())
        ts.QueryCursor(query).matches(tree.root_node)
    return time.perf_counter() - started


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()

    source = fetch_sdist("django", "5.2")
    work = Path(tempfile.mkdtemp(prefix="kg-bench-"))
    root = work / "django"
    shutil.copytree(source, root)
    files = python_files(root)
    print(
        f"corpus: Django 5.2 sdist, {len(files):,} Python files, "
        f"{sum((root / f).stat().st_size for f in files) / 1e6:.1f} MB"
    )

    raw_parse_extract(root, files[:200])  # warm caches before the baseline
    raw = raw_parse_extract(root, files)

    store = open_store(None, agentfs_dir=work / ".agentfs")
    started = time.perf_counter()
    files_report = refresh_files(store, root, workers=args.workers)
    t_files = time.perf_counter() - started
    states_report = refresh_states(store)
    t_states = time.perf_counter() - started - t_files
    md_report = refresh_markdown(store, root)
    cold = time.perf_counter() - started
    t_md = cold - t_files - t_states
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    noop_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = refresh_repository(store, root)
        noop_times.append(time.perf_counter() - t0)
        assert report.files.files_parsed == 0 and report.states.nodes_processed == 0
    noop = min(noop_times)

    target = pick_edit_target(root, files)
    rel = target.relative_to(root).as_posix()
    edit_scan, edit_changeset, edit_compute = [], [], []
    for i in range(args.edits):
        text = target.read_text()
        target.write_text(text + f"\n\ndef bench_added_{i}(x):\n    return x + {i}\n")
        t0 = time.perf_counter()
        r = refresh_repository(store, root)
        edit_scan.append(time.perf_counter() - t0)
        target.write_text(
            text + f"\n\ndef bench_added_{i}(x):\n    if x:\n        return x\n    return {i}\n"
        )
        t0 = time.perf_counter()
        r = refresh_repository(store, root, changed_paths=[rel])
        edit_changeset.append(time.perf_counter() - t0)
        edit_compute.append(r.files.duration_s + r.states.duration_s + r.markdown.duration_s)
        assert r.files.files_parsed == 1, r.files

    compared, matching, n_ast, n_ts = ast_counts(root, files)

    print()
    print(f"{'measure':<48}{'value':>14}  target")
    print(f"{'raw tree-sitter parse+extract (baseline)':<48}{raw:>12.2f} s")
    print(f"{'cold materialization, total':<48}{cold:>12.2f} s")
    print(
        f"{'  discovery (scan, hash, parse, index)':<48}{t_files:>12.2f} s  workers={args.workers}"
    )
    print(f"{'  node state (resolve, tools, store)':<48}{t_states:>12.2f} s")
    print(f"{'  markdown':<48}{t_md:>12.2f} s")
    print(f"{'cold / raw':<48}{cold / raw:>13.2f}x  <= 4x")
    print(f"{'cold files/s':<48}{len(files) / cold:>14,.0f}")
    print(
        f"{'nodes / states / markdown files':<48}{files_report.nodes_added:>6,} / {states_report.states_added:,} / {md_report.written:,}"
    )
    print(f"{'no-op refresh per file':<48}{noop / len(files) * 1e3:>12.3f} ms  <= 0.1 ms")
    print(
        f"{'one-file edit, compute (state+markdown+index) p50':<48}{statistics.median(edit_compute) * 1e3:>12.1f} ms  <= 150 ms"
    )
    print(
        f"{'one-file edit via change set, wall p50':<48}{statistics.median(edit_changeset) * 1e3:>12.1f} ms"
    )
    print(
        f"{'one-file edit via full stat scan, wall p50':<48}{statistics.median(edit_scan) * 1e3:>12.1f} ms"
    )
    print(
        f"{'ast node counts: files matching':<48}{matching:>8,}/{compared:,}  (nodes ast {n_ast:,}, ours {n_ts:,})"
    )
    print(f"{'peak RSS, main process':<48}{peak_mb:>11.0f} MB")
    print(f"{'peak RSS, largest parse worker':<48}{peak_children_mb:>11.0f} MB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
