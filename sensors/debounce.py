"""Turning a burst of events into one change set.

A change set closes when nothing new arrived for ``quiet_s`` (an editor's save, a
checkout of thousands of files) or when it has been open for ``max_wait_s`` (so an
endless trickle still gets processed). Events merge per key; ``paths`` keeps every path
any event touched — including a file created and deleted inside the window — because the
run stats each path and only then decides: nothing a source reported is lost.

The clock is passed in, so this is plain logic: the daemon asks ``deadline()`` how long
it may sleep and blocks on the bus until then — no timer fires while nothing happens.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sensors.coalesce import coalesce
from sensors.events import (
    Event,
    FileDeleted,
    GitBranchSwitch,
    GitCommit,
    GitHistoryRewritten,
    GitPull,
    Priority,
    RescanRequested,
)

DEFAULT_QUIET_S = 0.05  # an editor's save: a few events within milliseconds
DEFAULT_MAX_WAIT_S = 10.0


@dataclass(frozen=True)
class ChangeSet:
    """What one run should look at."""

    events: tuple[Event, ...]  # net events, most urgent first (transient files left out)
    paths: tuple[str, ...]  # every touched path, sorted
    rescan: bool  # too much to list: the run detects changes itself
    transient: tuple[str, ...]  # created and deleted inside the window (still in paths)
    raw_count: int  # events that went in
    opened_at: float
    closed_at: float

    @property
    def priority(self) -> Priority:
        return max((e.priority for e in self.events), default=Priority.NORMAL)

    @property
    def git_event(self) -> Event | None:
        """The most recent git move in the set (its sha and message tag the run)."""
        git = [
            e
            for e in self.events
            if isinstance(e, GitCommit | GitPull | GitBranchSwitch | GitHistoryRewritten)
        ]
        return max(git, key=lambda e: e.at) if git else None

    @property
    def run_key(self) -> str:
        """Stable identity of the change set (same paths, same net events -> same key)."""
        h = hashlib.sha256()
        h.update(b"rescan" if self.rescan else b"paths")
        for p in self.paths:
            h.update(p.encode() + b"\0")
        for key, kind in sorted((e.key, e.kind) for e in self.events):
            h.update(key.encode() + b"\0" + kind.encode() + b"\0")
        return h.hexdigest()[:20]


@dataclass
class Debouncer:
    quiet_s: float = DEFAULT_QUIET_S
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    clock: Callable[[], float] = time.monotonic
    _events: dict[str, Event] = field(default_factory=dict)
    _paths: set[str] = field(default_factory=set)
    _rescan: bool = False
    _count: int = 0
    _opened: float | None = None
    _last: float | None = None

    def __post_init__(self) -> None:
        if self.quiet_s < 0 or self.max_wait_s < self.quiet_s:
            raise ValueError("need 0 <= quiet_s <= max_wait_s")

    @property
    def pending(self) -> bool:
        return self._opened is not None

    def add(self, event: Event) -> None:
        now = self.clock()
        if self._opened is None:
            self._opened = now
        self._last = now
        self._count += 1
        self._paths.update(event.affected_paths)
        if isinstance(event, RescanRequested):
            self._rescan = True
        key = event.key
        prev = self._events.get(key)
        self._events[key] = event if prev is None else coalesce(prev, event)

    def deadline(self) -> float | None:
        """When the open change set closes (clock time), or None when nothing is open."""
        if self._opened is None or self._last is None:
            return None
        return min(self._last + self.quiet_s, self._opened + self.max_wait_s)

    def ready(self) -> bool:
        deadline = self.deadline()
        return deadline is not None and self.clock() >= deadline

    def flush(self) -> ChangeSet | None:
        """Close the open change set and return it (None when nothing is open)."""
        if self._opened is None:
            return None
        kept: list[Event] = []
        transient: list[str] = []
        for e in self._events.values():
            if isinstance(e, FileDeleted) and e.transient:
                transient.append(e.path)
            else:
                kept.append(e)
        kept.sort(key=lambda e: -int(e.priority))  # stable: arrival order within a priority
        change_set = ChangeSet(
            events=tuple(kept),
            paths=tuple(sorted(self._paths)),
            rescan=self._rescan,
            transient=tuple(sorted(transient)),
            raw_count=self._count,
            opened_at=self._opened,
            closed_at=self.clock(),
        )
        self._events = {}
        self._paths = set()
        self._rescan = False
        self._count = 0
        self._opened = self._last = None
        return change_set
