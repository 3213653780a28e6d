import asyncio

import pytest

from kgents_assets.flux import DropPolicy, Perturbation, PerturbationDropped, QueueFull
from kgents_assets.flux.queue import PerturbationQueue


def test_highest_priority_first_ties_in_submission_order() -> None:
    async def scenario() -> list[str]:
        queue = PerturbationQueue(10, DropPolicy.BLOCK)
        for name, priority in [("a", 100), ("b", 200), ("c", 100), ("d", 5), ("e", 200)]:
            queue.put_nowait(Perturbation(data=name, priority=priority))
        return [(await queue.get()).data for _ in range(5)]

    assert asyncio.run(scenario()) == ["b", "e", "a", "c", "d"]


def test_block_policy_refuses_without_waiting_and_waits_when_asked() -> None:
    async def scenario() -> None:
        queue = PerturbationQueue(2, DropPolicy.BLOCK)
        queue.put_nowait(Perturbation(data=1))
        queue.put_nowait(Perturbation(data=2))
        with pytest.raises(QueueFull):
            queue.put_nowait(Perturbation(data=3))
        waiting = asyncio.create_task(queue.put(Perturbation(data=3)))
        for _ in range(10):  # loop turns, not wall time: a put with room is done in one
            await asyncio.sleep(0)
        assert not waiting.done()
        assert (await queue.get()).data == 1
        await asyncio.wait_for(waiting, 1)
        assert len(queue) == 2

    asyncio.run(scenario())


def test_drop_oldest_evicts_and_fails_the_evicted() -> None:
    async def scenario() -> None:
        queue = PerturbationQueue(2, DropPolicy.DROP_OLDEST)
        first, second, third = (Perturbation(data=i, priority=100 + i) for i in range(3))
        for p in (first, second, third):
            queue.put_nowait(p)
        assert len(queue) == 2
        with pytest.raises(PerturbationDropped):
            await first.result
        assert {(await queue.get()).data for _ in range(2)} == {1, 2}
        assert queue.dropped == 1

    asyncio.run(scenario())


def test_drop_newest_refuses_the_newcomer() -> None:
    async def scenario() -> None:
        queue = PerturbationQueue(1, DropPolicy.DROP_NEWEST)
        queue.put_nowait(Perturbation(data="kept"))
        with pytest.raises(QueueFull):
            queue.put_nowait(Perturbation(data="refused"))
        assert (await queue.get()).data == "kept"
        assert queue.dropped == 1

    asyncio.run(scenario())


def test_reentries_bypass_the_bound() -> None:
    async def scenario() -> None:
        queue = PerturbationQueue(1, DropPolicy.DROP_NEWEST)
        queue.put_nowait(Perturbation(data="a"))
        queue.put_nowait(Perturbation(data="human answer", priority=10**6), bypass_bound=True)
        assert (await queue.get()).data == "human answer"

    asyncio.run(scenario())
