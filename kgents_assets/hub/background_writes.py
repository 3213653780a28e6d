"""Writes of one transaction run in order on a background thread.

A first build's stage 2 alternated between computing a batch in Python and waiting for
PostgreSQL to take it in (COPY into kv, traces, edges; marks): on two cores one of the
two sat idle most of the time. Here the stage's transaction is written by one thread, in
the order the writes were handed over, while the caller computes the next batch (reading
on a connection of its own); psycopg releases the GIL while it waits on the server.

``depth`` bounds what waits for the writer (each write holds a batch of rows): handing
over a write first waits until fewer than ``depth`` are outstanding. A failed write
fails the next hand-over (or ``wait``) with its own error, so the caller's transaction
rolls back as it would have with the write made in place; on leaving the block, writes
not yet started are dropped and the running one is waited for, so the connection is
never closed or rolled back under the writer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

import psycopg

Write = Callable[[psycopg.Connection[Any]], object]


class BackgroundWrites:
    def __init__(self, conn: psycopg.Connection[Any], depth: int = 1) -> None:
        self._conn = conn
        self._depth = max(1, depth)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage-writes")
        self._pending: deque[Future[object]] = deque()

    def submit(self, write: Write, depth: int | None = None) -> None:
        """Queue ``write`` (called with the connection) after those handed over before;
        ``depth`` for this one instead of the instance's (small writes may queue up
        while a long one runs, rather than stall the caller)."""
        while len(self._pending) >= max(1, depth or self._depth):
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(write, self._conn))

    def wait(self) -> None:
        """Every write handed over is done (raises the first one that failed)."""
        while self._pending:
            self._pending.popleft().result()

    def __enter__(self) -> BackgroundWrites:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            for future in self._pending:
                future.cancel()
            self._pending.clear()
            self._pool.shutdown(wait=True)  # the running write, if any, ends first
