"""Events numbered elsewhere (a shared stream's database) placed into the ring."""

from __future__ import annotations

import asyncio

import pytest

from kgents_assets.flux import FluxState, HolographicBuffer, ObserverDropped, TerrariumEvent


def stamped(seq: int) -> TerrariumEvent:
    return TerrariumEvent(
        type="tick", agent_id="a", seq=seq, data={"n": seq}, state=FluxState.FLOWING,
        pressure=0.0, flow=0.0, temperature=0.0,
    )  # fmt: skip


def test_place_takes_only_the_next_seq() -> None:
    buffer = HolographicBuffer("a", capacity=16, history=4)
    buffer.place(stamped(1), stamped(1).model_dump_json())
    with pytest.raises(ValueError, match="event 3 does not follow 1"):
        buffer.place(stamped(3), stamped(3).model_dump_json())
    assert buffer.head == 1 and [e.seq for e in buffer.recent()] == [1]


def test_skip_to_starts_midway_and_never_serves_what_it_does_not_hold() -> None:
    async def scenario() -> None:
        buffer = HolographicBuffer("a", capacity=16, history=4)
        for seq in (1, 2, 3):
            buffer.place(stamped(seq), stamped(seq).model_dump_json())
        early = buffer.attach(since=0)
        buffer.skip_to(500)
        assert buffer.oldest == 501 and buffer.recent() == []
        for seq in (501, 502):
            buffer.place(stamped(seq), stamped(seq).model_dump_json())
        # an observer that wanted events before the skip is told it lost them
        with pytest.raises(ObserverDropped, match="lagged"):
            await buffer.next_batch(early)
        fresh = buffer.attach()
        batch = await buffer.next_batch(fresh)
        assert batch.last_seq == 502 and len(batch.frames) == 2
        resumed = buffer.attach(since=100)  # older than anything held: a gap, then 501
        assert resumed.cursor == 501 and resumed.gap == (101, 500)
        buffer.close()

    asyncio.run(scenario())
