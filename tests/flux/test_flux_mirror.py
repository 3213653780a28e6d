import asyncio
import gc
import time
from typing import Any

import pytest

from kgents_assets.flux import FluxState, HolographicBuffer, ObserverDropped, TerrariumEvent
from kgents_assets.flux.mirror import Batch


def event(n: int) -> TerrariumEvent:
    return TerrariumEvent(
        type="tick",
        agent_id="a",
        data={"n": n},
        state=FluxState.FLOWING,
        pressure=0,
        flow=0,
        temperature=0,
    )


def test_reflect_assigns_consecutive_seq_and_encodes_once() -> None:
    buffer = HolographicBuffer("a", capacity=8, history=4)
    stamped = [buffer.reflect(event(i)) for i in range(10)]
    assert [e.seq for e in stamped] == list(range(1, 11))
    assert buffer.head == 10
    assert buffer.oldest == 3
    assert [e.data["n"] for e in buffer.recent(3)] == [7, 8, 9]


def test_attach_replays_history_then_streams() -> None:
    async def scenario() -> None:
        buffer = HolographicBuffer("a", capacity=256, history=100)
        for i in range(150):
            buffer.reflect(event(i))
        observer = buffer.attach()
        batch = await buffer.next_batch(observer)
        assert len(batch.frames) == 100
        assert '"seq":51' in batch.frames[0]
        buffer.sent(observer, batch)
        waiting = asyncio.create_task(buffer.next_batch(observer))
        await asyncio.sleep(0)
        assert not waiting.done()
        buffer.reflect(event(999))
        batch = await asyncio.wait_for(waiting, 1)
        assert batch.last_seq == 151 and '"n":999' in batch.frames[0]

    asyncio.run(scenario())


def test_since_resumes_exactly_and_reports_gaps_and_resets() -> None:
    async def scenario() -> None:
        buffer = HolographicBuffer("a", capacity=16, history=4, max_lag=12)
        for i in range(40):
            buffer.reflect(event(i))
        resumed = buffer.attach(since=35)
        assert (await buffer.next_batch(resumed)).frames[0].count('"seq":36') == 1
        too_old = buffer.attach(since=3)
        assert too_old.gap == (4, 28) and too_old.cursor == 29
        from_other_epoch = buffer.attach(since=1000)
        assert from_other_epoch.reset and from_other_epoch.cursor == 37

    asyncio.run(scenario())


def test_an_observer_stuck_in_send_is_dropped_others_keep_going() -> None:
    async def scenario() -> None:
        dropped: list[int] = []
        buffer = HolographicBuffer("a", send_timeout_s=0.05, check_interval_s=0.01)
        stuck = buffer.attach(on_drop=lambda o: dropped.append(o.id))
        healthy = buffer.attach()
        buffer.reflect(event(1))
        batch = await buffer.next_batch(stuck)
        buffer.sending(stuck)  # ... and never returns from its send
        await asyncio.sleep(0.2)
        assert dropped == [stuck.id] and stuck.dropped == "stalled"
        assert buffer.observer_count == 1
        with pytest.raises(ObserverDropped, match="since=0"):
            await buffer.next_batch(stuck)
        assert (await buffer.next_batch(healthy)).last_seq == batch.last_seq

    asyncio.run(scenario())


def test_an_observer_that_falls_behind_is_dropped_with_a_resume_point() -> None:
    async def scenario() -> None:
        buffer = HolographicBuffer("a", capacity=64, history=4, max_lag=32, max_batch=8)
        slow = buffer.attach()
        for i in range(8):
            buffer.reflect(event(i))
        buffer.sent(slow, await buffer.next_batch(slow))
        for i in range(40):
            buffer.reflect(event(i))
        assert buffer.check() == []  # behind, but not stuck: it may still catch up
        buffer.sending(slow)
        assert buffer.check() == []  # a send just started
        assert buffer.check(now=time.monotonic() + 1.5) == [slow]
        with pytest.raises(ObserverDropped) as info:
            await buffer.next_batch(slow)
        assert info.value.resume == 8 and info.value.reason == "lagged"
        assert buffer.dropped_total == {"lagged": 1}

    asyncio.run(scenario())


def test_cancelling_one_waiting_observer_does_not_disturb_the_others() -> None:
    async def scenario() -> None:
        buffer = HolographicBuffer("a")
        first, second = buffer.attach(), buffer.attach()
        a = asyncio.create_task(buffer.next_batch(first))
        b = asyncio.create_task(buffer.next_batch(second))
        await asyncio.sleep(0)
        a.cancel()
        await asyncio.sleep(0)
        buffer.reflect(event(1))
        assert (await asyncio.wait_for(b, 1)).last_seq == 1

    asyncio.run(scenario())


async def _waiting_observers(buffer: HolographicBuffer, n: int) -> list[asyncio.Task[Batch]]:
    observers = [buffer.attach() for _ in range(n)]
    waiters = [asyncio.create_task(buffer.next_batch(o)) for o in observers]
    await asyncio.sleep(0)  # every observer is now parked on the buffer's wake-up
    return waiters


def test_reflect_schedules_at_most_one_wake_up_for_a_thousand_observers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """reflect() never wakes observers itself: it asks the loop for one wake-up. Waking
    them in reflect (even through the shared future) schedules one callback per observer,
    which the counts below see."""

    async def scenario() -> None:
        buffer = HolographicBuffer("a")
        waiters = await _waiting_observers(buffer, 1000)
        loop = asyncio.get_running_loop()
        scheduled: list[str] = []
        for name in ("call_soon", "call_later", "call_at"):
            real = getattr(loop, name)

            def counting(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
                scheduled.append(_name)
                return _real(*args, **kw)

            monkeypatch.setattr(loop, name, counting)
        for i in range(50):
            buffer.reflect(event(i))
        assert len(scheduled) <= 1, scheduled
        monkeypatch.undo()
        batches = await asyncio.wait_for(asyncio.gather(*waiters), 5)
        assert all(b.last_seq == 50 and len(b.frames) == 50 for b in batches)

    asyncio.run(scenario())


def _reflect_seconds(counts: tuple[int, ...], calls: int = 500, rounds: int = 20) -> list[float]:
    """Best time of ``calls`` reflects into a buffer with each number of parked observers.

    The buffers are measured in turns, round after round, so a busy spell of the machine
    slows all of them alike instead of one; the best round of each is compared. The
    garbage collector is off while timing (as in ``timeit``): a collection walks every
    live object, the parked observers included, whoever triggers it.
    """

    async def scenario() -> list[float]:
        buffers = [HolographicBuffer("a", capacity=4096) for _ in counts]
        waiters = [
            w for b, n in zip(buffers, counts, strict=True) for w in await _waiting_observers(b, n)
        ]
        best = [float("inf")] * len(counts)
        for _ in range(rounds):
            for i, buffer in enumerate(buffers):
                gc.disable()
                try:
                    started = time.perf_counter()
                    for n in range(calls):
                        buffer.reflect(event(n))
                    best[i] = min(best[i], time.perf_counter() - started)
                finally:
                    gc.enable()
                await asyncio.sleep(0)  # let the one wake-up run, as between real bursts
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        return best

    return asyncio.run(scenario())


def test_the_cost_of_reflect_does_not_grow_with_the_number_of_observers() -> None:
    one, many = _reflect_seconds((1, 10_000))
    # Equal in theory; 3x leaves room for a noisy machine. Touching each of 10,000
    # observers per call costs ~50x (measured by patching reflect to do so).
    assert many < 3 * one, (
        f"500 reflects: {one * 1e3:.1f} ms with 1, {many * 1e3:.1f} ms with 10,000"
    )


def test_a_sparse_event_wakes_at_once_a_burst_is_coalesced() -> None:
    async def scenario() -> None:
        buffer = HolographicBuffer("a", coalesce_s=0.05)
        observer = buffer.attach()
        waiting = asyncio.create_task(buffer.next_batch(observer))
        await asyncio.sleep(0)
        buffer.reflect(event(1))
        # The first event after a quiet spell goes out at once, well inside the window.
        first = await asyncio.wait_for(waiting, 0.02)
        buffer.sent(observer, first)
        waiting = asyncio.create_task(buffer.next_batch(observer))
        await asyncio.sleep(0)
        started = time.monotonic()
        for i in range(10):
            buffer.reflect(event(i))
            await asyncio.sleep(0)
        assert not waiting.done()  # within the window: the burst is held together
        batch = await asyncio.wait_for(waiting, 1)
        assert len(batch.frames) == 10 and time.monotonic() - started >= 0.03

    asyncio.run(scenario())
