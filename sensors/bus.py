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

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from kgents_assets.queues import KeyedPriorityQueue
from sensors.coalesce import coalesce
from sensors.events import FILE_EVENT_TYPES, Event, RescanRequested

DEFAULT_CAPACITY = 10_000


class BusClosed(Exception):
    """The bus was closed; no more events will come."""


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
        self._queue: KeyedPriorityQueue[str, Event] = KeyedPriorityQueue()
        self._cond = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

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
        waiting = self._queue.get(key)
        if waiting is not None:
            merged = coalesce(waiting.value, event)
            self.stats.coalesced += 1
            self._queue.update(key, merged, int(merged.priority))
            return
        if len(self._queue) >= self.capacity:
            absorbed_new = self._overflow_locked(event)
            if absorbed_new:
                return
        self._queue.push(key, event, int(event.priority))

    def _overflow_locked(self, incoming: Event) -> bool:
        """Make room by folding events into the rescan; True if ``incoming`` was folded."""
        self.stats.overflows += 1
        absorbed: Counter[str] = Counter()
        for entry in self._queue.entries():
            if isinstance(entry.value, FILE_EVENT_TYPES):
                absorbed[self._queue.remove(entry.key).value.kind] += 1
        folded_incoming = isinstance(incoming, FILE_EVENT_TYPES)
        if folded_incoming:
            absorbed[incoming.kind] += 1
        # Still full of non-file events: fold the oldest, least urgent ones as well.
        room_needed = len(self._queue) + 1 + (0 if folded_incoming else 1) - self.capacity
        if room_needed > 0:
            victims = sorted(
                (e for e in self._queue.entries() if e.key != "rescan"),
                key=lambda e: (e.priority, e.order),
            )[:room_needed]
            for victim in victims:
                absorbed[self._queue.remove(victim.key).value.kind] += 1
        self.stats.absorbed.update(absorbed)
        rescan = RescanRequested(
            reason=f"event queue full ({self.capacity} waiting)",
            absorbed=dict(absorbed),
            source="bus",
        )
        existing = self._queue.get("rescan")
        if existing is not None:
            merged = coalesce(existing.value, rescan)
            self._queue.update("rescan", merged, int(merged.priority))
        else:
            self._queue.push("rescan", rescan, int(rescan.priority))
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
        entry = self._queue.pop()
        return None if entry is None else entry.value

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
