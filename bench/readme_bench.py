"""The README's command, as a user runs it: ``kg hub --once PATH`` on Django 5.2.

    uv run python bench/readme_bench.py [--runs 3] [--cold-runs 1] [--tree PATH ...]
        [--prepared DIR]

Every figure is wall clock of the real ``kg`` process (the venv's own script, interpreter
start included), all assets, in one run of this script:

- cold: a fresh copy of the Django 5.2 sdist, a fresh KGENTS_HOME and DAGSTER_HOME, the
  embedded PostgreSQL started from nothing (``--cold-runs`` times, each from a new copy);
- no-op: the same command again with nothing changed (``--runs`` times);
- one-file edit: a function appended to a mid-sized module, then the command (``--runs``
  times, a different function each time; the new function's markdown must appear);
- record landed: the in-process edit path ends before its Dagster record is written (a
  detached recorder writes it after the command), so next to the wall clock the bench
  gives the time from the command's start until that recorder exited too: no work hides
  behind the exit (a tree that writes the record before it exits: the same figure). Every
  command starts after the previous one's record landed;
- peak memory: the main process's high-water mark and the largest sum over the process
  tree (parse workers included), sampled from /proc;
- baselines measured here, on the same files: raw tree-sitter parse + definition query,
  single process and on ``--workers`` processes (pool start included), and the same raw
  work for the one edited file.

``--tree PATH`` runs another checkout of this project (a ``git worktree`` of an older
commit) with this venv: PYTHONPATH points at it and the script checks that ``kg`` really
imports the code from there. Repeat it (``--tree /work/before --tree .``) to measure
before and after in one run: each tree gets its own copy and homes, and the no-op and
edit runs alternate between the trees round by round, so a burst of load elsewhere hits
both alike. Medians over runs; exits non-zero when a run fails or a check does not hold.

``--prepared DIR`` keeps each tree's copy, homes and store in ``DIR`` and, when they are
already there from an earlier run, skips the cold part: a no-op and edit measure in
minutes instead of a cold index per tree. A prepared copy is brought up to date by one
uncounted run first (its code may have changed since), and the edited file is restored
(and indexed again, uncounted) before the script ends.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _baseline import BenchFailure, raw_baseline, raw_baseline_cpu
from _corpus import fetch_sdist
from _proc import (
    Measured,
    postgres_cpu_s,
    postgres_rss_mb,
    postgres_servers,
    run_measured,
    stop_postgres,
)

HERE = Path(__file__).resolve().parent.parent
KG = str(Path(sys.executable).parent / "kg")
PACKAGES = ("kgents_assets", "sensors", "resources", "gateway")
#: runs that failed after the cold run (reported at the end; the bench then exits 1)
FAILED_RUNS: list[str] = []


# ---------------------------------------------------------------- the corpus
def python_files(root: Path) -> list[str]:
    out: list[str] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        out.extend(str(Path(directory, f)) for f in files if f.endswith(".py"))
    return sorted(out)


def pick_edit_target(root: Path, files: list[str]) -> Path:
    """A mid-sized module outside the tests: the kind of file a person edits."""
    sizes = sorted((Path(f).stat().st_size, f) for f in files if "/tests/" not in f)
    return Path(sizes[len(sizes) * 3 // 4][1])


# ---------------------------------------------------------------- running kg
class Runner:
    """``kg hub --once`` for one copy of the corpus, with its own homes."""

    def __init__(self, tree: Path, work: Path, name: str) -> None:
        self.tree = tree
        self.copy = work / name / "django"
        self.home = work / name / "kgents_home"
        self.dagster = work / name / "dagster_home"
        self.prepared_marker = work / name / "prepared"
        self.landed_s = 0.0  # the last run's wall clock until its record landed
        self.dagster.mkdir(parents=True, exist_ok=True)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("KGENTS_DATABASE_URL", "KGENTS_REPO", "DAGSTER_HOME", "VIRTUAL_ENV")
        }
        self.env.update(
            PYTHONPATH=str(tree),
            KGENTS_HOME=str(self.home),
            DAGSTER_HOME=str(self.dagster),
        )

    def run(self, *, keep_going: bool = False, as_json: bool = False) -> Measured:
        """One ``kg hub --once``; a failure stops the bench, or with ``keep_going`` is
        recorded (the bench still exits non-zero, after printing what it measured).
        ``self.landed_s``: its wall clock plus the wait for the record it left running."""
        args = [KG, "hub", "--once", str(self.copy), *(["--json"] if as_json else [])]
        result = run_measured(args, self.env, self.copy)
        self.landed_s = result.wall_s + wait_for_recorders(self.home)
        if result.returncode != 0:
            tail = "\n".join(result.output.splitlines()[-25:])
            message = f"{self.tree}: kg hub --once exited {result.returncode}:\n{tail}"
            if not keep_going:
                raise BenchFailure(message)
            FAILED_RUNS.append(message)
            print(f"  FAILED run ({self.tree.name}, exit {result.returncode}); continuing")
        return result

    def servers(self) -> list[Path]:
        return postgres_servers(self.home, self.copy / ".agentfs")

    def step_durations(self) -> dict[str, tuple[float, float]]:
        """Step -> (start offset from the run's first step, seconds) of the newest run."""
        code = (
            "import json; from dagster import DagsterInstance\n"
            "i = DagsterInstance.get(); run = i.get_runs(limit=1)[0]\n"
            "stats = i.get_run_step_stats(run.run_id)\n"
            "t0 = min(s.start_time for s in stats if s.start_time)\n"
            "print(json.dumps({s.step_key: ((s.start_time or t0) - t0,"
            " (s.end_time or 0) - (s.start_time or 0)) for s in stats}))\n"
            "i.dispose()\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=self.env, cwd=self.copy, capture_output=True
        )
        if out.returncode != 0:
            return {}
        data = json.loads(out.stdout.decode().strip().splitlines()[-1])
        return {k: (float(v[0]), float(v[1])) for k, v in data.items()}


def wait_for_recorders(home: Path, timeout_s: float = 300.0) -> float:
    """Seconds spent waiting for the detached Dagster recorders ``kg hub --once`` left
    running under ``home`` (their pid files in ``logs/``; none: 0). Waits on a pidfd: no
    polling, exact to the exit."""
    started = time.perf_counter()
    for pid_file in sorted((home / "logs").glob("hub-record.*.pid")):
        try:
            fd = os.pidfd_open(int(pid_file.read_text()))
        except (OSError, ValueError):  # exited meanwhile (it removes its file)
            continue
        try:
            if not select.select([fd], [], [], timeout_s)[0]:
                raise BenchFailure(f"a recorder under {home} still runs after {timeout_s} s")
        finally:
            os.close(fd)
    return time.perf_counter() - started


def check_tree(tree: Path, env: dict[str, str]) -> None:
    """``kg`` imports the tree's code, and its bytecode is compiled (a user's second run)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *(str(tree / d) for d in PACKAGES)],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, "-c", "import kgents_assets; print(kgents_assets.__file__)"],
        env=env,
        cwd=tempfile.gettempdir(),  # not this checkout: the current directory comes first
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(out).resolve().is_relative_to(tree.resolve()):
        raise BenchFailure(f"kg would import {out}, not the tree {tree}")


def json_timings(output: str) -> dict[str, float]:
    """``timings_s`` of a ``kg hub --once --json`` summary (the JSON object is the last
    thing on stdout; nothing when the run printed none)."""
    start = output.rfind("\n{\n")
    try:
        summary = json.loads(output[start + 1 :] if start >= 0 else output)
    except ValueError:
        return {}
    timings = summary.get("timings_s") if isinstance(summary, dict) else None
    return {str(k): float(v) for k, v in (timings or {}).items()}


def markdown_of(copy: Path, target: Path, function: str) -> Path:
    rel = target.relative_to(copy).as_posix()
    return copy / ".agentfs" / "nodes" / rel / f"{function}.md"


# ---------------------------------------------------------------- report
def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    if len(values) < 2:
        return ""
    return f"({min(values):.2f}-{max(values):.2f}, n={len(values)})"


def tree_label(trees: list[Path], tree: Path) -> str:
    return tree.name if len(trees) == 1 else f"[{trees.index(tree)}] {tree.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, action="append", help="checkout (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="no-op, edit and baseline runs")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold runs (fresh copies)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the baseline")
    parser.add_argument("--corpus", type=Path, help="another source tree (default: Django 5.2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--prepared", type=Path, help="keep/reuse each tree's indexed copy here (no cold run)"
    )
    parser.add_argument(
        "--json-timings",
        action="store_true",
        help="edit runs with --json: print the medians of their timings_s split per tree",
    )
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree or [HERE]]
    print(f"load average at the start: {Path('/proc/loadavg').read_text().split()[:3]}")

    source = args.corpus.resolve() if args.corpus else fetch_sdist("django", "5.2")
    work = (
        args.prepared.resolve()
        if args.prepared
        else Path(tempfile.mkdtemp(prefix="kg-readme-bench-"))
    )
    work.mkdir(parents=True, exist_ok=True)
    runners: list[Runner] = []  # the copy each tree's no-op and edit runs use
    started_runners: list[Runner] = []  # every copy, for stopping their servers
    cold: dict[Path, list[Measured]] = {t: [] for t in trees}
    steps: dict[Path, dict[str, tuple[float, float]]] = {}
    pg_after_cold: dict[Path, float] = {}
    pg_cpu_cold: dict[Path, float] = {}
    try:
        for k, tree in enumerate(trees):
            label = tree_label(trees, tree)
            for n in range(args.cold_runs):
                runner = Runner(tree, work, f"tree{k}-cold{n}")
                if n == 0:
                    check_tree(tree, runner.env)
                reuse = n == 0 and args.prepared is not None and runner.prepared_marker.exists()
                if reuse:
                    started_runners.append(runner)
                    runners.append(runner)
                    # its code may have changed since it was prepared: uncounted
                    runner.run(keep_going=True)
                    print(f"  {label}: prepared copy in {runner.copy.parent} (no cold run)")
                    break
                if runner.copy.exists():
                    shutil.rmtree(runner.copy.parent)
                    runner = Runner(tree, work, f"tree{k}-cold{n}")
                shutil.copytree(source, runner.copy)
                started_runners.append(runner)
                if n == 0:
                    runners.append(runner)
                cold[tree].append(runner.run())
                print(f"  {label}: cold run {n + 1}: {cold[tree][-1].wall_s:.1f} s", flush=True)
                if n == 0:
                    steps[tree] = runner.step_durations()
                    pg_after_cold[tree] = sum(postgres_rss_mb(d) for d in runner.servers())
                    pg_cpu_cold[tree] = sum(postgres_cpu_s(d) for d in runner.servers())
                    runner.prepared_marker.touch()
        files = python_files(runners[0].copy)
        size = sum(Path(f).stat().st_size for f in files) / 1e6
        print(f"corpus: {source.name}, {len(files):,} Python files, {size:.1f} MB; kg = {KG}")
        for tree in trees:
            print(f"  tree {tree_label(trees, tree)}: {tree}")

        # rounds alternate between the trees: a burst of load elsewhere hits both alike
        noop: dict[Path, list[Measured]] = {t: [] for t in trees}
        landed: dict[tuple[Path, str], list[float]] = {}
        for _ in range(args.runs):
            for runner in runners:
                noop[runner.tree].append(runner.run(keep_going=True))
                landed.setdefault((runner.tree, "no-op"), []).append(runner.landed_s)
        for tree in trees:
            walls = ", ".join(f"{m.wall_s:.2f}" for m in noop[tree])
            print(f"  {tree_label(trees, tree)}: no-op runs: {walls} s", flush=True)

        target = pick_edit_target(runners[0].copy, files)
        rel_target = target.relative_to(runners[0].copy)
        originals = {r.tree: (r.copy / rel_target).read_text() for r in runners}
        edits: dict[Path, list[Measured]] = {t: [] for t in trees}
        raw_edit: list[float] = []
        try:
            for i in range(args.runs):
                function = f"bench_added_{i}"
                for runner in runners:
                    edited = runner.copy / rel_target
                    edited.write_text(
                        originals[runner.tree] + f"\n\ndef {function}(x):\n    return x + {i}\n"
                    )
                    edits[runner.tree].append(
                        runner.run(keep_going=True, as_json=args.json_timings)
                    )
                    landed.setdefault((runner.tree, "one-file edit"), []).append(runner.landed_s)
                    if not markdown_of(runner.copy, edited, function).is_file():
                        raise BenchFailure(
                            f"{runner.tree}: the edit was not picked up: no markdown for {function}"
                        )
                raw_edit.append(raw_baseline([str(target)], 1)[0])
        finally:
            if args.prepared is not None:  # leave each copy as prepared: original, indexed
                for runner in runners:
                    (runner.copy / rel_target).write_text(originals[runner.tree])
                    runner.run(keep_going=True)
        for tree in trees:
            walls = ", ".join(f"{m.wall_s:.2f}" for m in edits[tree])
            print(f"  {tree_label(trees, tree)}: edit runs: {walls} s", flush=True)

        raw_single, raw_multi, raw_cpu, found = [], [], [], set()
        for _ in range(args.runs):
            seconds, cpu_s, matches = raw_baseline_cpu(files, 1)
            raw_single.append(seconds)
            raw_cpu.append(cpu_s)
            found.add(matches)
            seconds, matches = raw_baseline(files, args.workers)
            raw_multi.append(seconds)
            found.add(matches)
        if len(found) != 1:
            raise BenchFailure(f"baseline runs disagree on the definitions found: {found}")
    finally:
        for r in started_runners:
            for data_dir in r.servers():
                stop_postgres(data_dir)
        if not args.keep and args.prepared is None:
            shutil.rmtree(work, ignore_errors=True)

    n_files = len(files)
    raw1, rawn = med(raw_single), med(raw_multi)
    print(f"\nkg hub --once on {source.name} ({n_files:,} Python files; edited: "
          f"{rel_target}); medians")  # fmt: skip
    print(f"  {'what':<40}{'wall s':>10}  {'vs raw 1 / N proc':>18}  {'per file':>14}  cpu s")
    baseline_rows = [
        ("raw parse+query, 1 process", raw1, med(raw_cpu)),
        (f"raw parse+query, {args.workers} processes", rawn, None),
        ("raw parse+query of the edited file", med(raw_edit), None),
    ]
    for name, value, cpu_value in baseline_rows:
        cpu_text = f"{cpu_value:.2f}" if cpu_value is not None else ""
        print(f"  {name:<40}{value:>10.3f}  {'':>18}  {'':>14}  {cpu_text}")
    for tree in trees:
        label = f" {tree_label(trees, tree)}" if len(trees) > 1 else ""
        rows: list[tuple[str, list[Measured]]] = [
            ("cold", cold[tree]),
            ("no-op", noop[tree]),
            ("one-file edit", edits[tree]),
        ]
        for what, ms in rows:
            if not ms:
                continue
            wall = med([m.wall_s for m in ms])
            ratio = per = ""
            if what == "cold":
                ratio = f"{wall / raw1:.1f}x / {wall / rawn:.1f}x"
                per = f"{wall / n_files * 1e3:.1f} ms/file"
            name = f"kg hub --once, {what}{label}"
            print(f"  {name:<40}{wall:>10.3f}  {ratio:>18}  {per:>14}  "
                  f"{med([m.cpu_s for m in ms]):.2f}")  # fmt: skip
            if (tree, what) in landed:
                name = f"  ... until its record landed{label}"
                print(f"  {name:<40}{med(landed[tree, what]):>10.3f}  "
                      f"{spread(landed[tree, what])}")  # fmt: skip
    print(
        f"  load average at the end: {Path('/proc/loadavg').read_text().split()[:3]} "
        f"on {os.cpu_count()} cores (cpu s = kg and the workers it waited for: not "
        "PostgreSQL, nor a detached recorder)"
    )
    for tree in trees:
        print(f"  spreads {tree_label(trees, tree)}: cold {spread([m.wall_s for m in cold[tree]])} "
              f"no-op {spread([m.wall_s for m in noop[tree]])} "
              f"edit {spread([m.wall_s for m in edits[tree]])}")  # fmt: skip
    if args.json_timings:
        print("\none-file edit, --json timings_s (wall s, medians; parts overlap)")
        for tree in trees:
            splits = [json_timings(m.output) for m in edits[tree]]
            keys = list(dict.fromkeys(k for split in splits for k in split))
            parts = ", ".join(
                f"{k} {med([split[k] for split in splits if k in split]):.3f}" for k in keys
            )
            print(f"  {tree_label(trees, tree)}: {parts or 'none reported'}")
    print("\npeak memory (MB)            main   process tree")
    for tree in trees:
        label = f" {tree_label(trees, tree)}" if len(trees) > 1 else ""
        for name, ms in (("cold", cold[tree]), ("no-op", noop[tree]), ("edit", edits[tree])):
            if ms:
                print(f"  {name + label:<22}{med([m.main_peak_mb for m in ms]):>9.0f}"
                      f"{med([m.tree_peak_mb for m in ms]):>15.0f}")  # fmt: skip
    for tree in trees:
        if tree in pg_after_cold:
            print(f"  embedded PostgreSQL after the cold run {tree_label(trees, tree)} "
                  f"(private + shared): {pg_after_cold[tree]:.0f}")  # fmt: skip
            print(f"  PostgreSQL CPU during the first cold run: {pg_cpu_cold[tree]:.1f} s "
                  f"(kg and its workers: {cold[tree][0].cpu_s:.1f} s)")  # fmt: skip
    for tree, tree_steps in steps.items():
        if not tree_steps:
            continue
        c = med([m.wall_s for m in cold[tree]])
        total = sum(d for _, d in tree_steps.values())
        print(f"\ncold run {tree_label(trees, tree)}, slowest steps (Dagster step stats; "
              f"sum {total:.1f} s):")  # fmt: skip
        print(f"  {'step':<44}{'starts at':>10}{'seconds':>9}{'of wall':>9}")
        for key, (start_s, seconds) in sorted(tree_steps.items(), key=lambda kv: -kv[1][1])[:10]:
            print(f"  {key:<44}{start_s:>9.1f}s{seconds:>8.1f}s{100 * seconds / c:>8.1f}%")
    if FAILED_RUNS:
        print(f"\n{len(FAILED_RUNS)} run(s) FAILED (their times are in the figures above):")
        for message in FAILED_RUNS:
            print(message)
        raise BenchFailure(f"{len(FAILED_RUNS)} run(s) failed")


if __name__ == "__main__":
    main()
