"""The event bus: a bounded, coalescing priority queue shared by sources and the daemon.

- Critical first; first-in first-out within one priority.
- One entry per key: a second event for a file (or commit) that is still waiting merges
  into the first and keeps its place in line (see ``coalesce``).
- Bounded by the number of waiting keys. When full, the waiting file events (and, if that
  is not enough, the oldest least urgent others) are folded into one ``RescanRequested``
  event that counts what it stands for: an overflow is never a silent drop, and a rescan
  finds every change the folded events described.
- Sources call ``put`` from any thread; consumers block in ``get`` without polling.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from sensors.coalesce import coalesce
from sensors.events import FILE_EVENT_TYPES, Event, RescanRequested

DEFAULT_CAPACITY = 10_000


class BusClosed(Exception):
    """The bus was closed; no more events will come."""


@dataclass
class _Entry:
    event: Event
    seq: int


@dataclass
class BusStats:
    put: int = 0
    coalesced: int = 0
    overflows: int = 0
    absorbed: Counter[str] = field(default_factory=Counter)


class EventBus:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2 (one slot is the rescan event)")
        self.capacity = capacity
        self.stats = BusStats()
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[int, int, str]] = []  # (-priority, seq, key), lazily pruned
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, event: Event) -> None:
        with self._cond:
            if self._closed:
                raise BusClosed("the event bus is closed")
            self.stats.put += 1
            self._put_locked(event)
            self._cond.notify()

    def put_many(self, events: list[Event]) -> None:
        with self._cond:
            if self._closed:
                raise BusClosed("the event bus is closed")
            for event in events:
                self.stats.put += 1
                self._put_locked(event)
            self._cond.notify_all()

    def _put_locked(self, event: Event) -> None:
        key = event.key
        entry = self._entries.get(key)
        if entry is not None:
            merged = coalesce(entry.event, event)
            self.stats.coalesced += 1
            if merged.priority != entry.event.priority:  # re-queue at the new priority
                self._push(key, merged, entry.seq)
            entry.event = merged
            return
        if len(self._entries) >= self.capacity:
            absorbed_new = self._overflow_locked(event)
            if absorbed_new:
                return
        self._push(key, event, next(self._seq))

    def _push(self, key: str, event: Event, seq: int) -> None:
        self._entries[key] = _Entry(event, seq)
        heapq.heappush(self._heap, (-int(event.priority), seq, key))

    def _overflow_locked(self, incoming: Event) -> bool:
        """Make room by folding events into the rescan; True if ``incoming`` was folded."""
        self.stats.overflows += 1
        absorbed: Counter[str] = Counter()
        for key in [k for k, e in self._entries.items() if isinstance(e.event, FILE_EVENT_TYPES)]:
            absorbed[self._entries.pop(key).event.kind] += 1
        folded_incoming = isinstance(incoming, FILE_EVENT_TYPES)
        if folded_incoming:
            absorbed[incoming.kind] += 1
        # Still full of non-file events: fold the oldest, least urgent ones as well.
        room_needed = len(self._entries) + 1 + (0 if folded_incoming else 1) - self.capacity
        if room_needed > 0:
            victims = sorted(
                (k for k in self._entries if k != "rescan"),
                key=lambda k: (self._entries[k].event.priority, self._entries[k].seq),
            )[:room_needed]
            for key in victims:
                absorbed[self._entries.pop(key).event.kind] += 1
        self.stats.absorbed.update(absorbed)
        rescan = RescanRequested(
            reason=f"event queue full ({self.capacity} waiting)",
            absorbed=dict(absorbed),
            source="bus",
        )
        existing = self._entries.get("rescan")
        if existing is not None:
            existing.event = coalesce(existing.event, rescan)
        else:
            self._push("rescan", rescan, next(self._seq))
        return folded_incoming

    def get(self, timeout: float | None = None) -> Event | None:
        """The most urgent waiting event; None after ``timeout`` seconds with nothing.

        Raises ``BusClosed`` once the bus is closed and empty.
        """
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while True:
                event = self._pop_locked()
                if event is not None:
                    return event
                if self._closed:
                    raise BusClosed("the event bus is closed")
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)

    def drain(self) -> list[Event]:
        """Every waiting event, most urgent first, without blocking."""
        out: list[Event] = []
        with self._cond:
            while (event := self._pop_locked()) is not None:
                out.append(event)
        return out

    def _pop_locked(self) -> Event | None:
        while self._heap:
            neg_priority, seq, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            # A stale heap row: the key was re-queued at another priority, or folded away.
            if entry is None or entry.seq != seq or -neg_priority != int(entry.event.priority):
                continue
            del self._entries[key]
            return entry.event
        return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
