"""StreamReplica: gateway replicas share their agents' streams through PostgreSQL.

With two or more gateway processes behind one Service, an observer connected to replica B
must see the events of an agent that replica A produced, in the same order and with the
same sequence numbers, so that ``?since=N`` means the same thing on every replica. So the
numbering moves out of the process: each event is appended to ``gateway_events`` and gets
its seq from the database (``gateway/streams/journal.py``), and every replica reflects
every appended event into its own ring (the same HolographicBuffer as a single process).

The producer's path still never waits. ``SharedMirror.reflect`` only appends to this
replica's outbox; one writer task drains it in batches (one transaction per agent and
batch: allocate seqs, insert, NOTIFY) and then places its own frames in its ring at once.
A slow or dead database therefore delays events, it never blocks an agent; the outbox is
bounded (``max_pending``) and, when full, drops its oldest events and counts them
(``dropped``) rather than grow without limit.

Every replica LISTENs on one connection. A notification carries (agent, first, last) and
the frames themselves when they fit in Postgres's 8000-byte payload; otherwise, or when
the seqs do not follow the ring's head (a lost notification, a reconnect, frames trimmed
away), the filler reads the missing rows from the table in seq order. Rings only ever
advance by ``head + 1``, so observers see exactly the sequence the database assigned.

Fan-out to observers is the ring's business and is unchanged: one frame, encoded once
(by the replica that produced it), copied out by each observer's own task; a slow
observer costs its own cursor and is dropped by the ring's watchdog, never the replica,
the listener or the producer. What sharing adds is latency: one commit plus one
notification (bench/gateway_replicas_bench.py measures it against a single replica).

Resume: ``?since=N`` is served from the ring when it still holds N+1, otherwise from the
table (the last ``retention`` events of each agent are kept: that many frames are what
such a resume may hold in memory, and a peer that stops reading them is cut off after
the observers' send timeout, like a stalled observer of the ring); a replica slightly behind
another waits briefly for its listener instead of treating N as from another epoch. The
epoch is the stream's, stored with it, so it is the same on every replica and survives
restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

import psycopg

from gateway.streams import journal
from gateway.streams.mirror import SharedMirror
from kgents_assets.flux import TerrariumEvent
from kgents_assets.store import DatabaseUnavailable, Store

log = logging.getLogger(__name__)

MAX_BATCH = 256  # events of one agent per transaction
FILL_PAGE = 1000  # rows read per gap-filling query
RETRY_MAX_S = 5.0


class StreamReplica:
    def __init__(
        self, store: Store, *, retention: int = 10_000, max_pending: int = 100_000
    ) -> None:
        self.store = store
        self.retention = retention
        self.max_pending = max_pending
        self._mirrors: dict[str, SharedMirror] = {}
        self._outbox: deque[tuple[str, TerrariumEvent]] = deque()
        self._outbox_ready = asyncio.Event()
        self._joined: set[str] = set()
        self._needs_fill: set[str] = set()
        self._fill_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._idle = asyncio.Event()  # the outbox is empty and nothing is being written
        self._idle.set()
        # counters, read by /metrics
        self.written = 0
        self.notified = 0
        self.filled = 0
        self.dropped = 0
        self.write_errors = 0

    # -- mirrors ------------------------------------------------------------------------

    def mirror(self, agent_id: str, **buffer: Any) -> SharedMirror:
        if agent_id in self._mirrors:
            raise ValueError(f"agent {agent_id!r} already has a shared mirror")
        shared = SharedMirror(agent_id, self._enqueue, **buffer)
        self._mirrors[agent_id] = shared
        if self._tasks:  # a mirror made after start: join its stream now
            self._needs_fill.add(agent_id)
            self._fill_ready.set()
        return shared

    def get(self, agent_id: str) -> SharedMirror | None:
        return self._mirrors.get(agent_id)

    @property
    def pending(self) -> int:
        return len(self._outbox)

    def _enqueue(self, agent_id: str, event: TerrariumEvent) -> None:
        if len(self._outbox) >= self.max_pending:
            self._outbox.popleft()
            self.dropped += 1
        self._outbox.append((agent_id, event))
        self._idle.clear()
        self._outbox_ready.set()

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Join every mirror's stream (its epoch, head and recent history), then listen
        and write. Listening starts before the history is read: nothing falls between."""
        self._tasks.append(asyncio.create_task(self._listen(), name="streams-listen"))
        try:
            await asyncio.wait_for(self._listening.wait(), 10)
        except TimeoutError:
            raise DatabaseUnavailable(
                f"shared streams: cannot LISTEN on {self.store.display_url}"
            ) from None
        async with await self._connect() as conn:
            for shared in self._mirrors.values():
                await self._join(conn, shared)
        self._tasks.append(asyncio.create_task(self._write(), name="streams-write"))
        self._tasks.append(asyncio.create_task(self._fill(), name="streams-fill"))

    async def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued so far is written (False on timeout)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        return self._idle.is_set()

    async def stop(self, flush_timeout_s: float = 2.0) -> None:
        if self._tasks:
            await self.flush(flush_timeout_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.store.url, autocommit=True, connect_timeout=5
        )

    async def _join(self, conn: psycopg.AsyncConnection[Any], shared: SharedMirror) -> None:
        stream = await journal.open_stream(conn, shared.agent_id)
        shared.epoch = stream.epoch
        self._joined.add(shared.agent_id)
        if shared.head == 0:
            tail = await journal.read_tail(conn, shared.agent_id, shared.history)
            start = tail[0][0] - 1 if tail else stream.head
            shared.skip_to(start)
            shared.accept(start + 1, [frame for _, frame in tail])
        await self._catch_up(conn, shared)

    # -- writing ------------------------------------------------------------------------

    def _take_batch(self) -> tuple[str, list[TerrariumEvent]]:
        """The oldest queued agent's events, in order, up to MAX_BATCH (others keep theirs)."""
        agent_id = self._outbox[0][0]
        batch: list[TerrariumEvent] = []
        rest: deque[tuple[str, TerrariumEvent]] = deque()
        while self._outbox and len(batch) < MAX_BATCH:
            item = self._outbox.popleft()
            if item[0] == agent_id:
                batch.append(item[1])
            else:
                rest.append(item)
        rest.extend(self._outbox)
        self._outbox = rest
        return agent_id, batch

    async def _write(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        failures = 0
        while True:
            if not self._outbox:
                self._idle.set()
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            agent_id, batch = self._take_batch()
            try:
                if conn is None or conn.closed:
                    conn = await self._connect()
                    # A mirror is not a ledger: a server crash may lose the last few
                    # milliseconds of events rather than every append wait for a flush
                    # to disk (NOTIFY still goes out at commit, in commit order).
                    await conn.execute("SET synchronous_commit = off")
                stamped, frames = await journal.append(conn, agent_id, batch, self.retention)
            except (psycopg.OperationalError, OSError) as exc:
                # Put the batch back in front, in order, and retry: events wait, none lost.
                self._outbox.extendleft((agent_id, e) for e in reversed(batch))
                self.write_errors += 1
                failures += 1
                log.warning("shared streams: cannot write (%s); retrying", exc)
                if conn is not None:
                    await conn.close()
                conn = None
                await asyncio.sleep(min(RETRY_MAX_S, 0.1 * 2**failures))
                continue
            failures = 0
            self.written += len(frames)
            shared = self._mirrors.get(agent_id)
            if shared is not None:
                self._deliver(shared, stamped[0].seq, frames, stamped)

    # -- listening and filling ----------------------------------------------------------

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with await self._connect() as conn:
                    await conn.execute(f"LISTEN {journal.CHANNEL}")
                    if self._listening.is_set():
                        # Reconnected: whatever was notified meanwhile is in the table.
                        self._needs_fill.update(self._mirrors)
                        self._fill_ready.set()
                    self._listening.set()
                    failures = 0
                    async for note in conn.notifies():
                        try:
                            self._on_notice(journal.decode_notice(note.payload))
                        except ValueError as exc:  # not ours, or a frame that does not parse
                            log.warning("shared streams: ignored a notification (%s)", exc)
            except (psycopg.OperationalError, OSError) as exc:
                failures += 1
                log.warning("shared streams: listener lost the database (%s); reconnecting", exc)
                await asyncio.sleep(min(RETRY_MAX_S, 0.1 * 2**failures))

    def _on_notice(self, notice: journal.Notice) -> None:
        self.notified += 1
        shared = self._mirrors.get(notice.agent_id)
        if shared is None or notice.last <= shared.head:
            return  # not hosted here, or already placed (our own writer was first)
        if notice.frames is None:
            self._request_fill(shared)
        else:
            self._deliver(shared, notice.first, notice.frames)

    def _deliver(
        self,
        shared: SharedMirror,
        first: int,
        frames: list[str],
        events: list[TerrariumEvent] | None = None,
    ) -> None:
        shared.accept(first, frames, events)
        if shared.head < first + len(frames) - 1:
            self._request_fill(shared)  # a hole before ``first``: read it from the table

    def _request_fill(self, shared: SharedMirror) -> None:
        self._needs_fill.add(shared.agent_id)
        self._fill_ready.set()

    async def _fill(self) -> None:
        conn: psycopg.AsyncConnection[Any] | None = None
        while True:
            await self._fill_ready.wait()
            self._fill_ready.clear()
            waiting, self._needs_fill = self._needs_fill, set()
            try:
                if conn is None or conn.closed:
                    conn = await self._connect()
                for agent_id in sorted(waiting):
                    shared = self._mirrors[agent_id]
                    try:
                        if agent_id not in self._joined:
                            await self._join(conn, shared)
                        else:
                            await self._catch_up(conn, shared)
                    except ValueError as exc:  # a row that does not parse: skip past it
                        log.error("shared streams: bad row in %s's stream (%s)", agent_id, exc)
                        shared.skip_to(shared.head + 1)
                        self._needs_fill.add(agent_id)
                        self._fill_ready.set()
            except (psycopg.OperationalError, OSError) as exc:
                log.warning("shared streams: cannot fill (%s); retrying", exc)
                self._needs_fill.update(waiting)
                if conn is not None:
                    await conn.close()
                conn = None
                await asyncio.sleep(1.0)
                self._fill_ready.set()

    async def _catch_up(self, conn: psycopg.AsyncConnection[Any], shared: SharedMirror) -> None:
        """Read every row after the ring's head, in seq order."""
        while True:
            rows = await journal.read_after(conn, shared.agent_id, shared.head, FILL_PAGE)
            if not rows:
                return
            if rows[0][0] > shared.head + 1:
                # Trimmed before we read them: continue after the hole (observers that
                # needed them are dropped as lagged and told the gap when they resume).
                shared.skip_to(rows[0][0] - 1)
            self.filled += shared.accept(rows[0][0], [frame for _, frame in rows])
            if len(rows) < FILL_PAGE:
                return
