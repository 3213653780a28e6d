"""Two refreshes at once: one generation, no torn file, a clear error on a stuck lock."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from pathlib import Path

import pytest

from kgents_assets.hotdata.atomic import lock_path
from kgents_assets.hotdata.errors import RefreshInProgressError
from kgents_assets.hotdata.hotdata import HotData
from kgents_assets.hotdata.models import AgentSnapshot, Phase


def make(root: Path, lock_timeout: float = 30.0) -> HotData[AgentSnapshot]:
    return HotData(
        root / "agent.json", AgentSnapshot, None, name="agent", lock_timeout=lock_timeout
    )


def test_concurrent_refreshes_generate_once(tmp_path: Path) -> None:
    calls: list[str] = []
    started = threading.Barrier(2)

    async def slow_generator() -> AgentSnapshot:
        calls.append(threading.current_thread().name)
        await asyncio.sleep(0.3)
        return AgentSnapshot(id="k", name="K", phase=Phase.ACTIVE)

    results: list[AgentSnapshot] = []

    def worker() -> None:
        started.wait()
        # A separate HotData per thread: separate lock file descriptions, like two processes.
        results.append(asyncio.run(make(tmp_path).refresh(slow_generator)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1  # the second waited, then found the fixture fresh
    assert len(results) == 2 and results[0] == results[1]


def test_forced_refreshes_and_readers_never_see_a_torn_file(tmp_path: Path) -> None:
    hd = make(tmp_path)
    big = {f"agent-{i}": 0.5 for i in range(3000)}  # ~100 KB: a torn write would show
    hd.save(AgentSnapshot(id="k", name="K", phase=Phase.ACTIVE, connections=big))
    stop = threading.Event()
    failures: list[Exception] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                assert len(make(tmp_path).load().connections) == 3000
            except Exception as exc:
                failures.append(exc)
                return

    async def writer(n: int) -> AgentSnapshot:
        return AgentSnapshot(id="k", name=f"K{n}", phase=Phase.WAKING, connections=big)

    def refresher(offset: int) -> None:
        for n in range(15):
            asyncio.run(make(tmp_path).refresh(lambda n=n: writer(offset + n), force=True))

    threads = [
        threading.Thread(target=reader),
        threading.Thread(target=refresher, args=(0,)),
        threading.Thread(target=refresher, args=(100,)),
    ]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert failures == []
    assert make(tmp_path).load().name in {f"K{n}" for n in (14, 114)}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_lock_held_too_long_is_a_clear_error(tmp_path: Path) -> None:
    hd = make(tmp_path, lock_timeout=0.3)
    path = lock_path(hd.path)
    path.parent.mkdir(parents=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another "process" is mid-refresh
    try:

        async def gen() -> AgentSnapshot:
            raise AssertionError("must not run while the lock is held")

        with pytest.raises(RefreshInProgressError) as info:
            asyncio.run(hd.refresh(gen, force=True))
        assert "agent.json is being refreshed by another process" in str(info.value)
        assert not hd.exists()
    finally:
        os.close(fd)
