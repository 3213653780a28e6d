"""The README's command, as a user runs it: ``kg hub --once PATH`` on Django 5.2.

    uv run python bench/readme_bench.py [--runs 3] [--cold-runs 1] [--tree PATH]

Every figure is wall clock of the real ``kg`` process (the venv's own script, interpreter
start included), all assets, in one run of this script:

- cold: a fresh copy of the Django 5.2 sdist, a fresh KGENTS_HOME and DAGSTER_HOME, the
  embedded PostgreSQL started from nothing (``--cold-runs`` times, each from a new copy);
- no-op: the same command again with nothing changed (``--runs`` times);
- one-file edit: a function appended to a mid-sized module, then the command (``--runs``
  times, a different function each time; the new function's markdown must appear);
- peak memory: the main process's high-water mark and the largest sum over the process
  tree (parse workers included), sampled from /proc;
- baselines measured here, on the same files: raw tree-sitter parse + definition query,
  single process and on ``--workers`` processes (pool start included), and the same raw
  work for the one edited file.

``--tree PATH`` runs another checkout of this project (a ``git worktree`` of an older
commit) with this venv: PYTHONPATH points at it and the script checks that ``kg`` really
imports the code from there. Medians over runs; exits non-zero when a run fails or a
check does not hold.
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
        self.copy = work / name / "django"
        self.home = work / name / "kgents_home"
        self.dagster = work / name / "dagster_home"
        self.dagster.mkdir(parents=True)
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

    def run(self) -> Measured:
        result = run_measured([KG, "hub", "--once", str(self.copy)], self.env, self.copy)
        if result.returncode != 0:
            tail = "\n".join(result.output.splitlines()[-25:])
            raise BenchFailure(f"kg hub --once exited {result.returncode}:\n{tail}")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=HERE, help="checkout of kgents-assets")
    parser.add_argument("--runs", type=int, default=3, help="no-op, edit and baseline runs")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold runs (fresh copies)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the baseline")
    parser.add_argument("--corpus", type=Path, help="another source tree (default: Django 5.2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    tree = args.tree.resolve()
    print(f"load average at the start: {Path('/proc/loadavg').read_text().split()[:3]}")

    source = args.corpus.resolve() if args.corpus else fetch_sdist("django", "5.2")
    work = Path(tempfile.mkdtemp(prefix="kg-readme-bench-"))
    runners: list[Runner] = []
    try:
        cold: list[Measured] = []
        steps: dict[str, tuple[float, float]] = {}
        for n in range(args.cold_runs):
            runner = Runner(tree, work, f"cold{n}")
            if n == 0:
                check_tree(tree, runner.env)
            shutil.copytree(source, runner.copy)
            runners.append(runner)
            files = python_files(runner.copy)
            if n == 0:
                size = sum(Path(f).stat().st_size for f in files) / 1e6
                print(f"tree: {tree}\ncorpus: {source.name}, {len(files):,} Python files, "
                      f"{size:.1f} MB; kg = {KG}")  # fmt: skip
            cold.append(runner.run())
            print(f"  cold run {n + 1}: {cold[-1].wall_s:.1f} s", flush=True)
            if n == 0:
                steps = runner.step_durations()
        runner = runners[0]
        pg_after_cold = sum(postgres_rss_mb(d) for d in runner.servers())
        pg_cpu_cold = sum(postgres_cpu_s(d) for d in runner.servers())

        noop = [runner.run() for _ in range(args.runs)]
        print(f"  no-op runs: {', '.join(f'{m.wall_s:.2f}' for m in noop)} s", flush=True)

        files = python_files(runner.copy)
        target = pick_edit_target(runner.copy, files)
        original = target.read_text()
        edits: list[Measured] = []
        raw_edit: list[float] = []
        for i in range(args.runs):
            function = f"bench_added_{i}"
            target.write_text(original + f"\n\ndef {function}(x):\n    return x + {i}\n")
            edits.append(runner.run())
            if not markdown_of(runner.copy, target, function).is_file():
                raise BenchFailure(f"the edit was not picked up: no markdown for {function}")
            raw_edit.append(raw_baseline([str(target)], 1)[0])
        print(f"  edit runs: {', '.join(f'{m.wall_s:.2f}' for m in edits)} s", flush=True)

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
        for r in runners:
            for data_dir in r.servers():
                stop_postgres(data_dir)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    n_files = len(files)
    raw1, rawn = med(raw_single), med(raw_multi)
    c = med([m.wall_s for m in cold])
    rows = [
        ("raw parse+query, 1 process", raw1, "", ""),
        (f"raw parse+query, {args.workers} processes", rawn, "", ""),
        ("kg hub --once, cold", c, f"{c / raw1:.1f}x / {c / rawn:.1f}x",
         f"{c / n_files * 1e3:.1f} ms/file"),
        ("kg hub --once, no-op", med([m.wall_s for m in noop]), "", ""),
        ("kg hub --once, one-file edit", med([m.wall_s for m in edits]), "", ""),
        ("raw parse+query of the edited file", med(raw_edit), "", ""),
    ]  # fmt: skip
    print(f"\nkg hub --once on {source.name} ({n_files:,} Python files; edited: "
          f"{target.relative_to(runner.copy)}); medians")  # fmt: skip
    cpu = {
        "raw parse+query, 1 process": med(raw_cpu),
        "kg hub --once, cold": med([m.cpu_s for m in cold]),
        "kg hub --once, no-op": med([m.cpu_s for m in noop]),
        "kg hub --once, one-file edit": med([m.cpu_s for m in edits]),
    }
    print(f"  {'what':<40}{'wall s':>10}  {'vs raw 1 / N proc':>18}  {'per file':>14}  cpu s")
    for name, value, ratio, per in rows:
        cpu_text = f"{cpu[name]:.2f}" if name in cpu else ""
        print(f"  {name:<40}{value:>10.3f}  {ratio:>18}  {per:>14}  {cpu_text}")
    print(
        f"  load average at the end: {Path('/proc/loadavg').read_text().split()[:3]} "
        f"on {os.cpu_count()} cores (cpu s = kg and its workers, not PostgreSQL)"
    )
    print(f"  spreads: cold {spread([m.wall_s for m in cold])} no-op "
          f"{spread([m.wall_s for m in noop])} edit {spread([m.wall_s for m in edits])}")  # fmt: skip
    print("\npeak memory (MB)            main   process tree")
    for name, ms in (("cold", cold), ("no-op", noop), ("one-file edit", edits)):
        print(f"  {name:<22}{med([m.main_peak_mb for m in ms]):>9.0f}"
              f"{med([m.tree_peak_mb for m in ms]):>15.0f}")  # fmt: skip
    print(f"  embedded PostgreSQL after the cold run (private + shared): {pg_after_cold:.0f}")
    print(f"\nPostgreSQL CPU during the first cold run: {pg_cpu_cold:.1f} s (kg and its "
          f"workers: {cold[0].cpu_s:.1f} s)")  # fmt: skip
    if steps:
        total = sum(d for _, d in steps.values())
        print(f"\ncold run, slowest steps (Dagster step stats; sum {total:.1f} s):")
        print(f"  {'step':<44}{'starts at':>10}{'seconds':>9}{'of wall':>9}")
        for key, (start, seconds) in sorted(steps.items(), key=lambda kv: -kv[1][1])[:10]:
            print(f"  {key:<44}{start:>9.1f}s{seconds:>8.1f}s{100 * seconds / c:>8.1f}%")


if __name__ == "__main__":
    main()
