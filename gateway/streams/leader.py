"""One producer per source across replicas.

A source that reads an outside feed (Dagster's event log for ``pipeline`` and ``hub``, the
demo world's clock) would, on N replicas sharing one stream, put each event in it N
times. So when streams are shared, a source runs only on the replica holding a
PostgreSQL advisory lock named after its agent. The others wait in ``pg_advisory_lock``
(no polling: the server wakes one of them) and take over when the holder's session
ends: its process exits or dies, or its connection drops, which stops its source first.

Perturbations are unaffected: each replica answers those sent to it, and its answers
join the shared stream like any other event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from kgents_assets.flux import FluxAgent
from kgents_assets.store import Store

log = logging.getLogger(__name__)

Source = Callable[[FluxAgent], Awaitable[None]]
RETRY_S = 2.0
LOCK_PREFIX = "kgents-gateway-source:"


class SourceLeadership:
    """``before_release``: awaited when a source stops, before its lock goes. The events it
    emitted reach the shared stream first: otherwise the next leader's first events could
    be journaled before this replica's last ones (seen when a replica shut down: its
    stream was flushed after its lock was released)."""

    def __init__(
        self, store: Store, before_release: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        self.store = store
        self.leading: set[str] = set()
        self._before_release = before_release

    def gate(self, agent_id: str, source: Source) -> Source:
        """``source``, run only while this replica holds the agent's lock."""

        async def gated(agent: FluxAgent) -> None:
            while True:
                try:
                    conn = await self._acquire(agent_id)
                except (psycopg.OperationalError, OSError) as exc:
                    log.warning("source of %s: cannot take the lead (%s); retrying", agent_id, exc)
                    await asyncio.sleep(RETRY_S)
                    continue
                self.leading.add(agent_id)
                log.info("source of %s runs on this replica", agent_id)
                try:
                    if await self._lead(conn, agent, source):
                        return
                finally:
                    self.leading.discard(agent_id)
                    if self._before_release is not None:
                        with contextlib.suppress(Exception):
                            await self._before_release()
                    with contextlib.suppress(Exception):
                        await conn.close()
                log.warning("source of %s: lost the lead (database connection); waiting", agent_id)

        return gated

    async def _acquire(self, agent_id: str) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self.store.url, autocommit=True, connect_timeout=5
        )
        try:
            # Blocks until the current holder's session ends; a cancelled wait cancels
            # the query, and closing the connection ends the session in any case.
            await conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK_PREFIX + agent_id,))
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _lead(
        self, conn: psycopg.AsyncConnection[Any], agent: FluxAgent, source: Source
    ) -> bool:
        """Run the source until it ends (True) or the lock's session is lost (False)."""

        async def run() -> None:
            await source(agent)

        running = asyncio.create_task(run(), name=f"source-{agent.id}")
        lost = asyncio.create_task(_until_closed(conn), name=f"lead-{agent.id}")
        try:
            await asyncio.wait({running, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (running, lost):
                if not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(running, lost, return_exceptions=True)
        if running.done() and not running.cancelled():
            running.result()  # a source that failed fails its agent, as without replicas
            return True
        return False


async def _until_closed(conn: psycopg.AsyncConnection[Any]) -> None:
    """Return when the connection breaks: waiting for notifications waits on its socket."""
    with contextlib.suppress(psycopg.OperationalError, OSError):
        async for _ in conn.notifies():
            pass
