"""A keyed priority queue: the one ordering both the agents' perturbation buffer
(``flux/queue.py``) and the daemon's event bus (``sensors/bus.py``) are built on.

- Most urgent first (a higher ``priority``); first in, first out within one priority.
- One entry per key: ``update`` replaces the value of a waiting key and keeps its place in
  line, even when its priority changes (an urgent event folded into an old one does not
  lose the old one's turn; it jumps ahead of less urgent ones).
- Any entry can be removed (``remove``, ``evict_oldest``) in O(1) plus lazy heap pruning:
  a removed or re-prioritised key leaves a stale heap row that ``pop`` skips; when stale
  rows outnumber live ones the heap is rebuilt, so memory stays O(waiting entries).

No locking and no waiting: callers own the concurrency (a ``threading.Condition`` for the
bus, asyncio events for the perturbation buffer) and their policies (capacity, what an
overflow does); this module only orders.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class Entry(Generic[K, V]):
    """A waiting value. ``order`` is its place in line among equal priorities."""

    key: K
    value: V
    priority: int
    order: int


class KeyedPriorityQueue(Generic[K, V]):
    def __init__(self) -> None:
        self._entries: dict[K, Entry[K, V]] = {}
        self._heap: list[tuple[int, int, K]] = []  # (-priority, order, key), lazily pruned
        self._orders = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> Entry[K, V] | None:
        return self._entries.get(key)

    def entries(self) -> Iterator[Entry[K, V]]:
        """The waiting entries, in no particular order (a snapshot: safe to remove while
        iterating)."""
        return iter(list(self._entries.values()))

    def push(self, key: K, value: V, priority: int, *, order: int | None = None) -> None:
        """Queue ``value`` under a new ``key``, behind everything of its priority.

        ``order`` overrides the place in line (e.g. a submission counter the caller keeps);
        by default it is the arrival order in this queue.
        """
        if key in self._entries:
            raise KeyError(f"{key!r} is already waiting: update it instead")
        entry = Entry(key, value, priority, next(self._orders) if order is None else order)
        self._entries[key] = entry
        heapq.heappush(self._heap, (-priority, entry.order, key))

    def update(self, key: K, value: V, priority: int | None = None) -> None:
        """Replace the value of the waiting ``key``, keeping its place in line."""
        entry = self._entries[key]
        entry.value = value
        if priority is not None and priority != entry.priority:
            entry.priority = priority
            heapq.heappush(self._heap, (-priority, entry.order, key))
            self._compact_if_stale()

    def pop(self) -> Entry[K, V] | None:
        """The most urgent entry, removed; None when nothing waits."""
        while self._heap:
            neg_priority, order, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            # A stale row: the key was removed, re-queued at another priority, or re-pushed.
            if entry is None or entry.order != order or entry.priority != -neg_priority:
                continue
            del self._entries[key]
            return entry
        return None

    def remove(self, key: K) -> Entry[K, V]:
        entry = self._entries.pop(key)
        self._compact_if_stale()
        return entry

    def evict_oldest(self) -> Entry[K, V] | None:
        """Remove the entry that has waited longest (lowest order), whatever its priority."""
        if not self._entries:
            return None
        oldest = min(self._entries.values(), key=lambda e: e.order)
        return self.remove(oldest.key)

    def drain(self) -> list[Entry[K, V]]:
        """Every waiting entry, most urgent first; the queue is empty afterwards."""
        out: list[Entry[K, V]] = []
        while (entry := self.pop()) is not None:
            out.append(entry)
        self._heap.clear()
        return out

    def _compact_if_stale(self) -> None:
        if len(self._heap) > 2 * len(self._entries) + 16:
            self._heap = [(-e.priority, e.order, e.key) for e in self._entries.values()]
            heapq.heapify(self._heap)
