"""`kg hub --watch` end to end: a real subprocess, real inotify, real Postgres, the hub's
stages in-process, and their record in a real Dagster instance (runless asset events on
the repository's partition)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, EventLogRecord, RunsFilter

from kgents_assets.hub import dirty
from kgents_assets.instance import get_instance
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from tests.executables import project_executable

pytestmark = pytest.mark.slow
WATCH_TAG = {"kgents/trigger": "kg-hub-watch"}
PARTITION = "repo"  # the repository is registered under its directory's name
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


def wait_for(
    check: Callable[[], bool], timeout: float = 30, what: Callable[[], str] = lambda: ""
) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"condition not met in time {what()}")


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


def materializations(instance: DagsterInstance, asset: str) -> list[EventLogRecord]:
    """The asset's materializations of the repository's partition, newest first."""
    return list(
        instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[PARTITION]),
            limit=100,
        ).records
    )


def metadata(record: EventLogRecord) -> dict[str, Any]:
    mat = record.asset_materialization
    assert mat is not None
    return {k: v.value for k, v in mat.metadata.items()}


def recorded_path(instance: DagsterInstance, path: str) -> list[EventLogRecord]:
    """code_nodes materializations whose change set named ``path``."""
    return [
        r
        for r in materializations(instance, "code_nodes")
        if path in (metadata(r).get("changed_paths") or [])
    ]


def test_watch_saves_commits_second_daemon_and_ctrl_c(
    repo: Path, env: dict[str, str], gh: object
) -> None:
    daemon = Daemon(repo, env)
    try:
        # The first start on a fresh database creates the Dagster schema: slow on a busy box.
        daemon.wait_line("watching", timeout=240)
        daemon.wait_line(" ok ", timeout=240)  # the catch-up refresh
        assert md(repo, "pkg/mod.py", "f").is_file()

        # A save updates the markdown without anyone asking...
        (repo / "pkg" / "mod.py").write_text(
            "def f(a, b):\n    return a + b\n\n\ndef g():\n    pass\n"
        )
        wait_for(
            lambda: (
                md(repo, "pkg/mod.py", "g").is_file()
                and "b" in md(repo, "pkg/mod.py", "f").read_text()
            )
        )
        # ...and then the instance holds what it did, on the repository's partition: one
        # materialization per code asset, in lineage order, naming the daemon and the file.
        with get_instance() as instance:

            def saved() -> list[EventLogRecord]:  # not the catch-up's scan at start
                return [
                    r
                    for r in recorded_path(instance, "pkg/mod.py")
                    if metadata(r)["mode"] == "change set"
                ]

            wait_for(lambda: bool(saved()))
            code = saved()[0]
            refresh_id = metadata(code)["refresh_id"]
            assert metadata(code)["trigger"] == "kg-hub-watch"
            assert metadata(code)["nodes_added"] == 1  # g

            def of_refresh(asset: str) -> list[EventLogRecord]:
                return [
                    r
                    for r in materializations(instance, asset)
                    if metadata(r)["refresh_id"] == refresh_id
                ]

            wait_for(lambda: bool(of_refresh("catalog_embeddings")))
            chain = ["code_nodes", "node_state", "node_markdown", "api_impact"]
            records = [of_refresh(a)[0] for a in [*chain, "test_skeletons", "catalog_embeddings"]]
            ids = [r.storage_id for r in records]
            assert ids == sorted(ids)  # upstream first: no asset looks stale in the UI
            assert all(r.partition_key == PARTITION for r in records)
            assert metadata(records[2])["written"] >= 2  # f changed, g is new
            assert metadata(records[4])["new_or_changed"] >= 1  # g (and f) at trust level 1
            assert metadata(records[5])["entries_added"] >= 1  # g joined the catalog
            # Runless: no Dagster run was launched for the watch's refreshes.
            assert all(r.run_id == "" for r in records)
            assert instance.get_runs(RunsFilter(tags=WATCH_TAG)) == []

        # A second daemon on the same repository is refused, clearly, with exit code 2.
        second = subprocess.run(
            [KG, "hub", "--watch", str(repo)], capture_output=True, text=True, env=env, timeout=60
        )
        assert second.returncode == 2
        assert "already watching" in second.stdout + second.stderr
        assert f"pid {daemon.proc.pid})" in second.stdout + second.stderr

        # A deleted file's nodes go away, and so does its markdown.
        (repo / "pkg" / "mod.py").unlink()
        wait_for(lambda: not md(repo, "pkg/mod.py", "g").exists())
        with get_instance() as instance:
            wait_for(
                lambda: any(
                    metadata(r)["files_deleted"] == 1 and metadata(r)["nodes_removed"] >= 2
                    for r in recorded_path(instance, "pkg/mod.py")
                )
            )
    finally:
        daemon.proc.send_signal(signal.SIGINT)
        code_ = daemon.proc.wait(timeout=60)
    out = "".join(daemon.output)
    assert code_ == 0, out
    assert "stopped:" in out and "asset events recorded in Dagster" in out
    assert "markdown " in out and " after the first event" in out


def test_killed_daemon_loses_nothing(repo: Path, env: dict[str, str], store: Store) -> None:
    daemon = Daemon(repo, env)
    daemon.wait_line(" ok ", timeout=240)
    # Enough definitions that their states and markdown take a while to write.
    many = "".join(f"def h{i}(a):\n    return a + {i}\n\n\n" for i in range(1500))
    (repo / "pkg" / "mod.py").write_text("def f(a):\n    return a\n\n\n" + many)

    def work_left() -> int:
        with store.connect() as conn:
            return sum(
                dirty.pending_count(conn, PARTITION, stage)
                for stage in (dirty.STATE, dirty.MARKDOWN, dirty.CATALOG)
            )

    # Kill without warning once the save's refresh is under way (its first stage has left
    # work for the next ones), and prove it was: work is still left once the process died.
    wait_for(lambda: work_left() > 0, timeout=60)
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(timeout=30)
    assert work_left() > 0, "the refresh finished before the kill landed"
    # Changes made while no daemon watches.
    (repo / "pkg" / "other.py").write_text("def k():\n    pass\n")
    daemon = Daemon(repo, env)  # the lock died with the process: a new daemon may start
    try:
        daemon.wait_line(" ok ", timeout=240)
        wait_for(
            lambda: (
                md(repo, "pkg/mod.py", "h1499").is_file()
                and md(repo, "pkg/other.py", "k").is_file()
            )
        )
        wait_for(lambda: work_left() == 0, what=lambda: "".join(daemon.output))
        with get_instance() as instance:
            wait_for(lambda: bool(recorded_path(instance, "pkg/other.py")), timeout=60)
    finally:
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(timeout=60) == 0
