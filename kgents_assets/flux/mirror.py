"""HolographicBuffer: the agent's mirror. Observing it never disturbs the agent.

The agent calls :meth:`HolographicBuffer.reflect` once per event. That call encodes the
event to JSON once, stores it in a fixed ring and, at most once per loop iteration, asks
the loop to wake waiting observers. It never touches an observer, never awaits, and costs
the same with 1 or 10,000 observers.

Each observer is only a cursor (the next sequence number it wants). Its own task copies
frames out of the ring and writes them to its socket; a slow socket slows only that task.
A watchdog (running only while observers exist) drops observers that fall too far behind
or sit in one send too long, through the ``on_drop`` callback the transport supplied.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kgents_assets.flux.events import TerrariumEvent

_observer_ids = itertools.count(1)
FREEZE_S = 1.0  # the watchdog woke this much late: the whole process was frozen


class ObserverDropped(Exception):
    """The observer fell behind (or stalled) and was dropped; it may resume from ``resume``."""

    def __init__(self, reason: str, resume: int) -> None:
        super().__init__(f"{reason}; resume with since={resume}")
        self.reason = reason
        self.resume = resume


@dataclass(eq=False, slots=True)
class Observer:
    """One observer's whole state in the buffer: a cursor and a few timestamps."""

    cursor: int  # next sequence number to deliver
    on_drop: Callable[[Observer], None] | None
    id: int = field(default_factory=lambda: next(_observer_ids))
    attached_at: float = field(default_factory=time.monotonic)
    sending_since: float | None = None
    dropped: str | None = None
    gap: tuple[int, int] | None = None  # events no longer in the ring when it resumed
    reset: bool = False  # asked to resume past our head: the buffer restarted
    delivered: int = 0

    @property
    def last_delivered(self) -> int:
        return self.cursor - 1


@dataclass(frozen=True)
class Batch:
    last_seq: int
    frames: list[str]


class HolographicBuffer:
    def __init__(
        self,
        agent_id: str,
        *,
        capacity: int = 4096,
        history: int = 100,
        max_lag: int | None = None,
        max_batch: int = 256,
        send_timeout_s: float = 3.0,
        lag_grace_s: float = 1.0,
        check_interval_s: float = 0.25,
        coalesce_s: float = 0.01,
    ) -> None:
        if history > capacity:
            raise ValueError("history cannot exceed the ring capacity")
        self.agent_id = agent_id
        self.capacity = capacity
        self.history = history
        self.max_lag = max_lag if max_lag is not None else capacity * 3 // 4
        self.max_batch = max_batch
        self.send_timeout_s = send_timeout_s
        self.lag_grace_s = lag_grace_s
        self.coalesce_s = coalesce_s
        self._last_wake = float("-inf")
        self.check_interval_s = check_interval_s
        # A new epoch per buffer: sequence numbers restart with the process, and clients
        # that resume across a restart must be able to tell.
        self.epoch = uuid.uuid4().hex[:12]
        self.head = 0  # last sequence number assigned; 0 before the first event
        self._floor = 1  # the first sequence number this ring ever held
        self._frames: list[str | None] = [None] * capacity
        self._events: list[TerrariumEvent | None] = [None] * capacity
        self._observers: set[Observer] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.attached_total = 0
        self.dropped_total: dict[str, int] = {}

    # -- the producer side ------------------------------------------------------------

    def reflect(self, event: TerrariumEvent) -> TerrariumEvent:
        """Record ``event`` once (assigning its seq) and schedule a wake-up. O(1) in observers."""
        stamped = event.model_copy(update={"seq": self.head + 1})
        self.place(stamped, stamped.model_dump_json(fallback=str))
        return stamped

    def place(self, stamped: TerrariumEvent, frame: str) -> None:
        """Record an event whose seq was assigned elsewhere (a shared stream's database);
        it must be ``head + 1``: a ring holds no holes."""
        seq = stamped.seq
        if seq != self.head + 1:
            raise ValueError(f"{self.agent_id}: event {seq} does not follow {self.head}")
        slot = seq % self.capacity
        self._frames[slot] = frame
        self._events[slot] = stamped
        self.head = seq
        loop = self._loop
        if self._waiter is not None and not self._wake_pending and loop is not None:
            self._wake_pending = True
            # A sparse event goes out at once; in a burst, wake-ups are spaced by
            # coalesce_s so each observer sends one message per window, not per event.
            delay = self._last_wake + self.coalesce_s - loop.time()
            if delay <= 0:
                loop.call_soon(self._wake)
            else:
                loop.call_later(delay, self._wake)

    def skip_to(self, head: int) -> None:
        """Continue after ``head`` without holding the events up to it (a shared stream
        joined midway, or one whose missing events were trimmed from its table)."""
        self.head = head
        self._floor = head + 1

    def _wake(self) -> None:
        self._wake_pending = False
        if self._loop is not None:
            self._last_wake = self._loop.time()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def oldest(self) -> int:
        return max(self._floor, self.head - self.capacity + 1)

    def recent(self, limit: int = 100) -> list[TerrariumEvent]:
        first = max(self.oldest, self.head - limit + 1)
        found = (self._events[s % self.capacity] for s in range(first, self.head + 1))
        return [e for e in found if e is not None]

    # -- the observer side ------------------------------------------------------------

    @property
    def observer_count(self) -> int:
        return len(self._observers)

    def attach(
        self, since: int | None = None, on_drop: Callable[[Observer], None] | None = None
    ) -> Observer:
        """A new observer: the last ``history`` events first, or everything after ``since``."""
        self._loop = asyncio.get_running_loop()
        replay_from = max(self.oldest, self.head - self.history + 1)
        observer = Observer(cursor=replay_from, on_drop=on_drop)
        if since is not None:
            if since > self.head:
                observer.reset = True  # resuming from another epoch: start from history
            else:
                # Never start so far back that the watchdog would drop it on arrival.
                floor = max(self.oldest, self.head - self.max_lag + 1)
                observer.cursor = max(since + 1, floor)
                if since + 1 < floor:
                    observer.gap = (since + 1, floor - 1)
        self._observers.add(observer)
        self.attached_total += 1
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = self._loop.create_task(self._watch(), name=f"mirror-{self.agent_id}")
        return observer

    def detach(self, observer: Observer) -> None:
        self._observers.discard(observer)

    async def next_batch(self, observer: Observer) -> Batch:
        """Wait until ``observer`` has frames to send; raise ObserverDropped if it lost them."""
        while True:
            if observer.dropped is not None:
                raise ObserverDropped(observer.dropped, observer.last_delivered)
            if observer.cursor <= self.head:
                if observer.cursor < self.oldest:
                    self._drop(observer, "lagged")
                    raise ObserverDropped("lagged", observer.last_delivered)
                end = min(self.head, observer.cursor + self.max_batch - 1)
                frames = self._frames
                cap = self.capacity
                return Batch(end, [frames[s % cap] for s in range(observer.cursor, end + 1)])  # type: ignore[misc]
            if self._waiter is None:
                assert self._loop is not None
                self._waiter = self._loop.create_future()
            # shield: one observer being cancelled must not cancel everyone's wake-up.
            await asyncio.shield(self._waiter)

    def sending(self, observer: Observer) -> None:
        observer.sending_since = time.monotonic()

    def sent(self, observer: Observer, batch: Batch) -> None:
        observer.delivered += batch.last_seq - observer.cursor + 1
        observer.cursor = batch.last_seq + 1
        observer.sending_since = None

    def _drop(self, observer: Observer, reason: str) -> None:
        if observer.dropped is not None:
            return
        observer.dropped = reason
        self.dropped_total[reason] = self.dropped_total.get(reason, 0) + 1
        self._observers.discard(observer)
        if observer.on_drop is not None:
            observer.on_drop(observer)

    def check(self, now: float | None = None) -> list[Observer]:
        """Drop observers stuck in one send past ``send_timeout_s``, or more than
        ``max_lag`` events behind while a send has been pending for ``lag_grace_s``.

        An observer that is behind but sending freely is catching up (256 events per
        message) and is left alone; only a peer that stopped taking data is dropped.
        """
        at = time.monotonic() if now is None else now
        dropped = []
        for observer in list(self._observers):
            started = observer.sending_since
            if started is None:
                continue
            pending = at - started
            if pending > self.send_timeout_s:
                self._drop(observer, "stalled")
                dropped.append(observer)
            elif pending > self.lag_grace_s and self.head - observer.cursor + 1 > self.max_lag:
                self._drop(observer, "lagged")
                dropped.append(observer)
        return dropped

    def _forgive(self, frozen_s: float) -> None:
        """The whole loop was frozen (GC, a busy machine): that time is nobody's fault."""
        for observer in self._observers:
            if observer.sending_since is not None:
                observer.sending_since += frozen_s

    def close(self) -> None:
        """Stop the watchdog (the agent is shutting down); observers detach themselves."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _watch(self) -> None:
        last = time.monotonic()
        while self._observers:
            await asyncio.sleep(self.check_interval_s)
            now = time.monotonic()
            late = now - last - self.check_interval_s
            last = now
            # Only a real freeze is forgiven; a loop that is merely busy must still drop
            # a peer that stopped reading, or the peer would be forgiven forever.
            if late > FREEZE_S:
                self._forgive(late)
            self.check(now)
