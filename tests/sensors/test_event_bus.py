from __future__ import annotations

import threading
import time

import pytest

from sensors.bus import BusClosed, EventBus
from sensors.events import (
    FileCreated,
    FileDeleted,
    FileModified,
    GitCommit,
    HealthCheck,
    Priority,
    RescanRequested,
    TestFailed,
)


def _failed(nodeid: str) -> TestFailed:
    return TestFailed(nodeid=nodeid, session_id="s1", message="boom")


def test_critical_first_then_fifo_within_priority() -> None:
    bus = EventBus()
    bus.put(FileModified(path="a.py"))
    bus.put(HealthCheck(component="db"))
    bus.put(GitCommit(sha="a" * 40, message="m"))
    bus.put(FileModified(path="b.py"))
    bus.put(_failed("t.py::test_x"))
    bus.put(FileModified(path="c.py"))
    kinds = [(e.priority, getattr(e, "path", e.kind)) for e in bus.drain()]
    assert kinds == [
        (Priority.CRITICAL, "test_failed"),
        (Priority.HIGH, "git_commit"),
        (Priority.NORMAL, "a.py"),
        (Priority.NORMAL, "b.py"),
        (Priority.NORMAL, "c.py"),
        (Priority.LOW, "health"),
    ]


def test_same_key_coalesces_and_keeps_its_place() -> None:
    bus = EventBus()
    bus.put(FileCreated(path="a.py"))
    bus.put(FileModified(path="b.py"))
    bus.put(FileModified(path="a.py"))
    bus.put(FileModified(path="a.py"))
    events = bus.drain()
    assert [(e.kind, e.path) for e in events] == [  # type: ignore[union-attr]
        ("file_created", "a.py"),
        ("file_modified", "b.py"),
    ]
    assert bus.stats.coalesced == 2


def test_create_then_delete_is_kept_as_transient_delete() -> None:
    bus = EventBus()
    bus.put(FileCreated(path="tmp.py"))
    bus.put(FileDeleted(path="tmp.py"))
    (event,) = bus.drain()
    assert isinstance(event, FileDeleted) and event.transient


def test_overflow_folds_file_events_into_one_counted_rescan() -> None:
    bus = EventBus(capacity=10)
    bus.put(GitCommit(sha="b" * 40))
    for i in range(25):
        bus.put(FileModified(path=f"f{i}.py"))
    events = bus.drain()
    rescans = [e for e in events if isinstance(e, RescanRequested)]
    files = [e for e in events if isinstance(e, FileModified)]
    assert len(rescans) == 1
    assert isinstance(events[0], GitCommit)  # the commit survives the overflow
    # every file event is either still queued or counted by the rescan: none vanished
    assert rescans[0].absorbed["file_modified"] + len(files) == 25
    assert bus.stats.overflows >= 1


def test_overflow_of_non_file_events_folds_least_urgent_oldest() -> None:
    bus = EventBus(capacity=3)
    bus.put(HealthCheck(component="a"))
    bus.put(GitCommit(sha="c" * 40))
    bus.put(_failed("t.py::a"))
    bus.put(_failed("t.py::b"))
    events = bus.drain()
    assert [e.kind for e in events] == ["test_failed", "test_failed", "rescan"]
    rescan = events[-1]
    assert isinstance(rescan, RescanRequested)
    assert rescan.absorbed == {"health": 1, "git_commit": 1}


def test_get_blocks_until_put_from_another_thread() -> None:
    bus = EventBus()
    got: list[object] = []

    def consumer() -> None:
        got.append(bus.get())

    t = threading.Thread(target=consumer)
    t.start()
    # Wait until the consumer sleeps inside get(), on the bus's condition (no polling).
    deadline = time.monotonic() + 5
    while not bus._cond._waiters:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "get() never blocked"
        time.sleep(0.001)
    assert not got
    bus.put(FileModified(path="x.py"))
    t.join(2)
    assert len(got) == 1


def test_get_timeout_and_close() -> None:
    bus = EventBus()
    start = time.monotonic()
    assert bus.get(timeout=0.05) is None
    assert time.monotonic() - start >= 0.04
    bus.close()
    with pytest.raises(BusClosed):
        bus.get()
    with pytest.raises(BusClosed):
        bus.put(FileModified(path="x.py"))
