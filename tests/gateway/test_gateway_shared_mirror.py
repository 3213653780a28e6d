"""SharedMirror: reflect queues without numbering; accept places frames strictly in order."""

from __future__ import annotations

import asyncio

from gateway.streams import SharedMirror
from gateway.streams.journal import encode_frames
from kgents_assets.flux import FluxState, TerrariumEvent


def event(n: int) -> TerrariumEvent:
    return TerrariumEvent(
        type="tick", agent_id="a", data={"n": n}, state=FluxState.FLOWING,
        pressure=0.0, flow=0.0, temperature=0.0,
    )  # fmt: skip


def test_reflect_queues_and_accept_places_in_seq_order_only() -> None:
    queued: list[tuple[str, TerrariumEvent]] = []
    mirror = SharedMirror("a", lambda agent, e: queued.append((agent, e)), capacity=16, history=8)
    first = event(0)
    mirror.reflect(first)
    assert queued == [("a", first)] and mirror.head == 0  # not numbered until written
    frames = encode_frames(1, [event(n) for n in range(5)])
    assert mirror.accept(3, frames[2:]) == 0  # a hole before 3: nothing placed
    assert mirror.accept(1, frames[:2]) == 2
    assert mirror.accept(1, frames) == 3  # 1 and 2 already held: skipped
    assert [e.data["n"] for e in mirror.recent()] == [0, 1, 2, 3, 4]
    assert [e.seq for e in mirror.recent()] == [1, 2, 3, 4, 5]


def test_wait_for_head_returns_when_the_listener_catches_up() -> None:
    async def scenario() -> None:
        mirror = SharedMirror("a", lambda *_: None, capacity=16, history=8)
        frames = encode_frames(1, [event(n) for n in range(3)])
        waiting = asyncio.create_task(mirror.wait_for_head(3, 5.0))
        await asyncio.sleep(0)
        assert not waiting.done()
        mirror.accept(1, frames)
        assert await waiting is True
        assert await mirror.wait_for_head(9, 0.01) is False

    asyncio.run(scenario())
