"""The keyed priority queue under the perturbation buffer and the event bus."""

from __future__ import annotations

import pytest

from kgents_assets.queues import KeyedPriorityQueue


def keys(q: KeyedPriorityQueue[str, int]) -> list[str]:
    return [e.key for e in q.drain()]


def test_most_urgent_first_and_first_in_first_out_within_a_priority() -> None:
    q: KeyedPriorityQueue[str, int] = KeyedPriorityQueue()
    for key, priority in [("a", 1), ("b", 5), ("c", 1), ("d", 5), ("e", 3)]:
        q.push(key, 0, priority)
    assert keys(q) == ["b", "d", "e", "a", "c"]
    assert q.pop() is None and len(q) == 0


def test_update_keeps_the_place_in_line_and_a_raised_priority_jumps_ahead() -> None:
    q: KeyedPriorityQueue[str, int] = KeyedPriorityQueue()
    for key in "abc":
        q.push(key, 0, 1)
    q.update("a", 42)  # same priority: still first, new value
    q.update("c", 7, priority=9)  # more urgent now: ahead of everything
    drained = q.drain()
    assert [(e.key, e.value) for e in drained] == [("c", 7), ("a", 42), ("b", 0)]


def test_one_entry_per_key() -> None:
    q: KeyedPriorityQueue[str, int] = KeyedPriorityQueue()
    q.push("a", 0, 1)
    with pytest.raises(KeyError, match="already waiting"):
        q.push("a", 1, 1)
    assert "a" in q and len(q) == 1


def test_removed_and_evicted_entries_never_come_out() -> None:
    q: KeyedPriorityQueue[str, int] = KeyedPriorityQueue()
    for i, key in enumerate("abcde"):
        q.push(key, i, 10 - i)
    assert q.remove("b").value == 1
    evicted = q.evict_oldest()
    assert evicted is not None and evicted.key == "a"
    q.push("b", 99, 10)  # a removed key may come back, at the end of its priority
    assert keys(q) == ["b", "c", "d", "e"]


def test_an_explicit_order_sets_the_place_in_line() -> None:
    q: KeyedPriorityQueue[str, int] = KeyedPriorityQueue()
    q.push("late", 0, 1, order=10)
    q.push("early", 0, 1, order=3)
    assert keys(q) == ["early", "late"]


def test_stale_heap_rows_do_not_pile_up() -> None:
    q: KeyedPriorityQueue[str, int] = KeyedPriorityQueue()
    q.push("kept", 0, 1)
    for i in range(10_000):
        q.push(f"k{i}", i, 1)
        q.update(f"k{i}", i, priority=2)  # a stale row each time
        q.remove(f"k{i}")
    assert len(q._heap) <= 2 * len(q) + 17
    assert keys(q) == ["kept"]
