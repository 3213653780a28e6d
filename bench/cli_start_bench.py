"""How fast ``kg`` answers: wall clock of whole commands, interpreter start included.

    uv run python bench/cli_start_bench.py [--runs 20] [--tree PATH]

Runs each command ``--runs`` times as a subprocess (the venv's own ``kg`` script, output
to a pipe) and prints the median wall time and the median CPU time (user + system; less
sensitive to a busy machine than wall time), next to ``python -c pass`` and ``import
typer`` measured in the same run, which no CLI built on Typer can beat. Exits non-zero
when a command fails.

``--tree PATH`` (repeatable) runs other checkouts of this project with this venv
(PYTHONPATH), interleaved with each other in the same run: before and after side by side.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_S = 0.30


def measure(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; raises SystemExit when the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise SystemExit(f"FAILED: {' '.join(args)} exited {done.returncode}\n{tail}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tree", type=Path, action="append", help="checkout (repeatable)")
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree or [HERE]]
    base_env = {k: v for k, v in os.environ.items() if k not in ("KGENTS_FIXTURES_DIR",)}
    kg = str(BIN / "kg")
    # (label, argv, env, cwd)
    commands: list[tuple[str, list[str], dict[str, str], Path]] = [
        ("python -c pass", [sys.executable, "-c", "pass"], base_env, trees[0]),
        ("python -c 'import typer'", [sys.executable, "-c", "import typer"], base_env, trees[0]),
    ]
    for n, tree in enumerate(trees):
        env = {**base_env, "PYTHONPATH": str(tree)}
        tag = f" [{n}]" if len(trees) > 1 else ""
        commands.append((f"kg --help{tag}", [kg, "--help"], env, tree))
        commands.append((f"kg fixture list{tag}", [kg, "fixture", "list"], env, tree))
    # one warm-up of each (bytecode compiled, page cache warm), then interleaved runs so a
    # burst of load elsewhere hits every command alike
    for _, cmd, env, cwd in commands:
        measure(cmd, env, cwd)
    walls: dict[str, list[float]] = {c[0]: [] for c in commands}
    cpus: dict[str, list[float]] = {c[0]: [] for c in commands}
    for _ in range(args.runs):
        for name, cmd, env, cwd in commands:
            wall, cpu = measure(cmd, env, cwd)
            walls[name].append(wall)
            cpus[name].append(cpu)

    for n, tree in enumerate(trees):
        print(f"[{n}] {tree}")
    print(f"{args.runs} runs each, medians; load average "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} on {os.cpu_count()} cores")  # fmt: skip
    print(f"  {'command':<28}{'wall ms':>9}{'cpu ms':>9}{'p90 wall':>10}  target")
    for name, *_ in commands:
        ordered = sorted(walls[name])
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        target = f"<= {TARGET_S * 1000:.0f} ms" if name.startswith("kg") else "baseline"
        print(f"  {name:<28}{statistics.median(walls[name]) * 1e3:>9.0f}"
              f"{statistics.median(cpus[name]) * 1e3:>9.0f}{p90 * 1e3:>10.0f}  {target}")  # fmt: skip


if __name__ == "__main__":
    main()
