"""Stage 2's first build writes its transaction on a background thread: the writes land in
order and commit together, and a failed write fails the stage with nothing of it stored
(the marks stay, the next run finishes the job and equals a build that never failed)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kgents_assets.hub import refresh_states as refresh_states_mod
from kgents_assets.hub import states_first_build
from kgents_assets.hub.background_writes import BackgroundWrites
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.refresh_states import refresh_states
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.hub.test_first_build import EXTRA, REPO
from tests.hub.test_refresh import BASE
from tests.repo_helpers import Files, snapshot


def _insert(value: str) -> Callable[[psycopg.Connection[Any]], None]:
    def write(conn: psycopg.Connection[Any]) -> None:
        conn.execute("INSERT INTO kv (key, value) VALUES (%s, %s)", (value, '"x"'))

    return write


def _keys(store: Store) -> list[str]:
    with store.connect() as conn:
        return [r[0] for r in conn.execute("SELECT key FROM kv WHERE key LIKE 'bw:%' ORDER BY 1")]


def test_writes_land_in_order_and_commit_with_the_transaction(store: Store) -> None:
    order: list[str] = []

    def record(name: str) -> Callable[[psycopg.Connection[Any]], None]:
        def write(conn: psycopg.Connection[Any]) -> None:
            _insert(name)(conn)
            order.append(name)

        return write

    with store.transaction() as conn, BackgroundWrites(conn, depth=3) as writes:
        for i in range(20):
            writes.submit(record(f"bw:{i:02d}"))
    assert order == [f"bw:{i:02d}" for i in range(20)]
    assert _keys(store) == order


def test_a_deeper_hand_over_queues_behind_a_running_write(store: Store) -> None:
    """``submit(..., depth=n)`` returns while a long write runs (a first build's edge
    batches queue behind the marks), and the writes still land in order."""
    started, release = threading.Event(), threading.Event()

    def slow(conn: psycopg.Connection[Any]) -> None:
        started.set()
        assert release.wait(60)
        _insert("bw:00")(conn)

    with store.transaction() as conn, BackgroundWrites(conn) as writes:
        writes.submit(slow)
        assert started.wait(60)
        for i in range(1, 4):
            writes.submit(_insert(f"bw:{i:02d}"), depth=8)  # returns: the write is held
        release.set()  # reached only if the hand-overs above did not wait for it
    assert _keys(store) == [f"bw:{i:02d}" for i in range(4)]


def test_a_failed_write_fails_the_transaction_and_stores_nothing(store: Store) -> None:
    def fail(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT 1/0")

    with (
        pytest.raises(psycopg.errors.DivisionByZero),
        store.transaction() as conn,
        BackgroundWrites(conn) as writes,
    ):
        writes.submit(_insert("bw:before"))
        writes.submit(fail)
        for i in range(5):  # the failure surfaces at a hand-over or at the end
            writes.submit(_insert(f"bw:after{i}"))
    assert _keys(store) == []


def test_leaving_on_an_error_waits_for_the_running_write(store: Store) -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow(conn: psycopg.Connection[Any]) -> None:
        started.set()
        assert release.wait(60)
        conn.execute("SELECT 1")
        finished.append(True)

    never: list[str] = []
    with (
        pytest.raises(KeyError),
        store.transaction() as conn,
        BackgroundWrites(conn, depth=5) as writes,
    ):
        writes.submit(slow)
        writes.submit(lambda c: never.append("queued write ran"))
        assert started.wait(60)
        threading.Timer(0.2, release.set).start()
        raise KeyError("the caller failed")
    # the running write ended before the block left (the connection was still its own);
    # the write queued behind it was dropped
    assert finished == [True] and never == []


def test_a_first_build_failing_midway_stores_no_state_and_the_next_run_finishes(
    store: Store,
    fresh_store: Callable[[], Store],
    repo: Callable[[Files], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = repo({**BASE, **EXTRA})
    clean_root = tmp_path / "clean"
    shutil.copytree(root, clean_root)
    monkeypatch.setattr(states_first_build, "BATCH", 7)  # many batches, many writes
    add_repository(store, REPO, str(root))
    refresh_files(store, root, repo=REPO, workers=1)

    real = refresh_states_mod._write_derived
    calls = {"n": 0}

    def failing(conn: psycopg.Connection[Any], repo: str, derived: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        real(conn, repo, derived)

    monkeypatch.setattr(refresh_states_mod, "_write_derived", failing)
    with pytest.raises(OSError, match="simulated"):
        refresh_states(store, repo=REPO)
    with store.connect() as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM kv WHERE key LIKE 'node:%%'),"
            " (SELECT count(*) FROM hub_edges), (SELECT count(*) FROM hub_traces),"
            " (SELECT count(*) FROM hub_dirty WHERE stage <> 'state'),"
            " (SELECT count(*) FROM hub_dirty WHERE stage = 'state'),"
            " (SELECT count(*) FROM hub_nodes)"
        ).fetchone()
    assert counts is not None
    assert counts[:4] == (0, 0, 0, 0), counts  # nothing of the failed stage was kept
    assert counts[4] == counts[5] > 60  # every node still marked for stage 2

    monkeypatch.setattr(refresh_states_mod, "_write_derived", real)
    again = refresh_repository(store, root, repo=REPO, workers=1)
    assert again.states.first_build and again.states.states_added == counts[5]
    clean = fresh_store()
    refresh_repository(clean, clean_root, repo=REPO, workers=1)
    a, b = snapshot(store, root, REPO), snapshot(clean, clean_root, REPO)
    assert a["pending"] == b["pending"] == 0
    for part in ("nodes", "edges", "states", "markdown"):
        assert a[part] == b[part], part
