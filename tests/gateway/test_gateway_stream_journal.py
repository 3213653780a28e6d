"""The shared streams' table: seqs from the database, gap-free across writers, and
retention keeping the last N events of each agent."""

from __future__ import annotations

import asyncio

import psycopg

from gateway.streams import journal
from kgents_assets.flux import FluxState, TerrariumEvent
from kgents_assets.store import Store


def event(n: int) -> TerrariumEvent:
    return TerrariumEvent(
        type="tick", agent_id="a", data={"n": n}, state=FluxState.FLOWING,
        pressure=0.0, flow=0.0, temperature=0.0,
    )  # fmt: skip


def test_two_writers_get_one_gap_free_sequence_and_old_events_are_trimmed(store: Store) -> None:
    async def scenario() -> None:
        one = await psycopg.AsyncConnection.connect(store.url, autocommit=True)
        two = await psycopg.AsyncConnection.connect(store.url, autocommit=True)
        try:
            opened = await journal.open_stream(one, "a")
            assert opened.head == 0 and opened == await journal.open_stream(two, "a")

            async def write(conn: psycopg.AsyncConnection[object], start: int) -> list[int]:
                firsts = []
                for batch in range(15):
                    events = [event(start + batch * 10 + i) for i in range(10)]
                    stamped, frames = await journal.append(conn, "a", events, retention=100)
                    first = stamped[0].seq
                    assert [TerrariumEvent.model_validate_json(f).seq for f in frames] == list(
                        range(first, first + 10)
                    )
                    assert [e.data["n"] for e in stamped] == [e.data["n"] for e in events]
                    firsts.append(first)
                return firsts

            a, b = await asyncio.gather(write(one, 0), write(two, 1000))
            assert sorted(a + b) == list(range(1, 300, 10))  # 30 batches, no seq twice
            rows = await journal.read_after(one, "a", 0, 1000)
            seqs = [seq for seq, _ in rows]
            assert seqs == list(range(seqs[0], 301))  # the newest, contiguous
            assert 100 <= len(seqs) <= 110  # trimmed each time the head passes 10 more
            assert (await journal.read_tail(one, "a", 3))[-1][0] == 300
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())
