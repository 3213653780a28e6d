"""`kg hub --watch` end to end: a real subprocess, real inotify, real Postgres, the real
code pipeline running in-process against a real Dagster instance under the repo."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterRun, DagsterRunStatus, RunsFilter

from kgents_assets.instance import get_instance
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from tests.executables import project_executable

pytestmark = pytest.mark.slow
WATCH_TAG = {"kgents/trigger": "kg-hub-watch"}
KG = project_executable("kg")


class Daemon:
    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [KG, "hub", "--watch", str(repo)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=repo,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_line(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r}; output:\n{''.join(self.output)}")


def wait_for(check: Callable[[], bool], timeout: float = 30) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def env(store: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # This process opens the same Dagster instance as the daemons: same home, same store.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    env = {k: v for k, v in os.environ.items() if k != "KGENTS_REPO"}
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def repo(git_repo: Path, gh: object) -> Iterator[Path]:
    (git_repo / "pkg").mkdir()
    (git_repo / "pkg" / "mod.py").write_text("def f(a):\n    return a\n")
    yield git_repo


def md(repo: Path, rel: str, name: str) -> Path:
    return repo / ".agentfs" / "nodes" / rel / f"{name}.md"


def test_watch_saves_commits_second_daemon_and_ctrl_c(
    repo: Path, env: dict[str, str], gh: object
) -> None:
    daemon = Daemon(repo, env)
    try:
        daemon.wait_line("watching")
        daemon.wait_line(" ok ")  # the catch-up run
        assert md(repo, "pkg/mod.py", "f").is_file()

        # A save updates the markdown without anyone asking.
        (repo / "pkg" / "mod.py").write_text(
            "def f(a, b):\n    return a + b\n\n\ndef g():\n    pass\n"
        )
        wait_for(
            lambda: (
                md(repo, "pkg/mod.py", "g").is_file()
                and "b" in md(repo, "pkg/mod.py", "f").read_text()
            )
        )

        # A second daemon on the same repository is refused, clearly, with exit code 2.
        second = subprocess.run(
            [KG, "hub", "--watch", str(repo)], capture_output=True, text=True, env=env, timeout=60
        )
        assert second.returncode == 2
        assert "already watching" in second.stdout + second.stderr
        assert f"pid {daemon.proc.pid})" in second.stdout + second.stderr

        # A deleted file's nodes go away.
        (repo / "pkg" / "mod.py").unlink()
        wait_for(lambda: not md(repo, "pkg/mod.py", "g").exists())
    finally:
        daemon.proc.send_signal(signal.SIGINT)
        code = daemon.proc.wait(timeout=60)
    assert code == 0, "".join(daemon.output)
    assert "stopped:" in "".join(daemon.output)

    with get_instance() as instance:
        runs = instance.get_runs(RunsFilter(tags=WATCH_TAG))
    assert len(runs) >= 3 and all(r.job_name == "code_refresh_job" for r in runs)


def test_killed_daemon_loses_nothing(repo: Path, env: dict[str, str]) -> None:
    daemon = Daemon(repo, env)
    daemon.wait_line(" ok ")
    with get_instance() as instance:
        done = {r.run_id for r in instance.get_runs(RunsFilter(tags=WATCH_TAG))}
        (repo / "pkg" / "mod.py").write_text("def f(a):\n    return a\n\n\ndef h():\n    pass\n")

        def started() -> list[DagsterRun]:
            runs = instance.get_runs(
                RunsFilter(tags=WATCH_TAG, statuses=[DagsterRunStatus.STARTED])
            )
            return [r for r in runs if r.run_id not in done]

        # Kill without warning once the save's run is in progress, and prove it was.
        wait_for(lambda: bool(started()), timeout=60)
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(timeout=30)
        killed = started()
        # Still STARTED: the run never reached its end (a finished run would be SUCCESS).
        assert len(killed) == 1, "the run finished before the kill landed"
    # Changes made while no daemon watches.
    (repo / "pkg" / "other.py").write_text("def k():\n    pass\n")
    daemon = Daemon(repo, env)  # the lock died with the process: a new daemon may start
    try:
        daemon.wait_line(" ok ")
        wait_for(
            lambda: (
                md(repo, "pkg/mod.py", "h").is_file() and md(repo, "pkg/other.py", "k").is_file()
            )
        )
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=60) == 0
