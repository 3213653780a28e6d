"""Process helpers shared by the benchmarks: wall time and peak memory of a process tree.

psutil is not installed here, so memory comes from /proc: a sampling thread walks the
tree below the child (``/proc/<pid>/task/<tid>/children``) and records the largest sum of
resident set sizes it saw, plus the main process's own high-water mark (``VmHWM``, kept
by the kernel, so it is exact even between samples).
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            out.extend(int(c) for c in text.split())
    except OSError:
        pass
    return out


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(_children(pid))
    return seen


@dataclass
class Measured:
    """One finished run: exit code, wall seconds, memory peaks (MB), captured output."""

    returncode: int
    wall_s: float
    cpu_s: float
    main_peak_mb: float
    tree_peak_mb: float
    output: str = field(repr=False)


def run_measured(
    args: list[str], env: dict[str, str], cwd: Path, interval: float = 0.1, timeout: float = 3600
) -> Measured:
    """Run ``args`` to completion; wall clock from spawn to exit, including interpreter start.

    ``cpu_s`` is user + system time of the process and the children it waited for (parse
    workers; not the database server): less sensitive than wall time to a busy machine.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    peaks = {"main": 0, "tree": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = tree_pids(proc.pid)
            peaks["main"] = max(peaks["main"], _status_kb(proc.pid, "VmHWM"))
            peaks["tree"] = max(peaks["tree"], sum(_status_kb(p, "VmRSS") for p in pids))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Measured(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        main_peak_mb=peaks["main"] / 1024,
        tree_peak_mb=peaks["tree"] / 1024,
        output=output.decode(errors="replace"),
    )


def postgres_servers(*roots: Path) -> list[Path]:
    """Data directories of running PostgreSQL servers found under ``roots``."""
    return sorted({p.parent for r in roots if r.exists() for p in r.rglob("postmaster.pid")})


def postgres_rss_mb(data_dir: Path) -> float:
    """Private memory (RssAnon) of a server and its backends; shared buffers counted once."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    pids = tree_pids(pid)
    anon = sum(_status_kb(p, "RssAnon") for p in pids)
    return (anon + _status_kb(pid, "RssShmem")) / 1024


def postgres_cpu_s(data_dir: Path) -> float:
    """CPU seconds a server has used since it started: the postmaster, its live processes
    and (cutime/cstime) every backend that has exited."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = 0
    for n, p in enumerate(tree_pids(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime (+ cutime, cstime of reaped children, for the postmaster only)
        ticks += int(fields[11]) + int(fields[12])
        if n == 0:
            ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_postgres(data_dir: Path) -> None:
    """Fast shutdown of a server the benchmark started (SIGINT to its postmaster)."""
    import signal

    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
