import asyncio
from typing import Any

import pytest

from kgents_assets.flux import (
    AgentCollapsed,
    AgentNotFlowing,
    Collapse,
    DropPolicy,
    EntropyExhausted,
    FluxAgent,
    FluxConfig,
    FluxState,
    QueueFull,
)


def kinds(agent: FluxAgent) -> list[str]:
    return [e.type for e in agent.mirror.recent(1000)]


def test_perturbations_are_answered_highest_priority_first() -> None:
    async def scenario() -> None:
        order: list[Any] = []
        gate = asyncio.Event()

        async def handler(data: Any) -> Any:
            await gate.wait()
            order.append(data)
            return {"echo": data}

        agent = FluxAgent("a", handler)
        await agent.start()
        first = await agent.perturb("first")
        await asyncio.sleep(0)  # the loop takes "first" and blocks on the gate
        low = await agent.perturb("low", priority=1)
        high = await agent.perturb("high", priority=500)
        assert agent.state is FluxState.PERTURBED
        assert agent.pressure == pytest.approx(2 / 100)
        gate.set()
        assert await first.result == {"echo": "first"}
        await asyncio.gather(low.result, high.result)
        assert order == ["first", "high", "low"]
        assert agent.state is FluxState.FLOWING
        assert kinds(agent).count("perturbation_result") == 3
        await agent.stop()
        assert agent.state is FluxState.STOPPED

    asyncio.run(scenario())


def test_a_failing_handler_fails_only_that_perturbation() -> None:
    async def scenario() -> None:
        async def handler(data: Any) -> Any:
            if data == "bad":
                raise ValueError("no such thing")
            return data

        agent = FluxAgent("a", handler)
        await agent.start()
        bad, good = await agent.perturb("bad"), await agent.perturb("good")
        with pytest.raises(ValueError, match="no such thing"):
            await bad.result
        assert await good.result == "good"
        assert agent.counters["perturbations_failed"] == 1
        assert agent.temperature > 0

    asyncio.run(scenario())


def test_collapse_fails_every_waiting_perturbation_without_hanging() -> None:
    async def scenario() -> None:
        crash = asyncio.Event()

        async def handler(data: Any) -> Any:
            if data == "crash":
                await crash.wait()
                raise Collapse("model server went away")
            return data

        agent = FluxAgent("a", handler)
        await agent.start()
        running = await agent.perturb("crash")
        await asyncio.sleep(0)
        waiting = [await agent.perturb(i) for i in range(5)]
        crash.set()
        results = await asyncio.wait_for(
            asyncio.gather(running.result, *(p.result for p in waiting), return_exceptions=True),
            2,
        )
        assert all(isinstance(r, AgentCollapsed) for r in results)
        assert agent.state is FluxState.COLLAPSED
        assert "model server went away" in (agent.collapse_reason or "")
        with pytest.raises(AgentNotFlowing):
            await agent.perturb("later")
        agent.reset()
        await agent.start()
        assert await (await agent.perturb("again")).result == "again"

    asyncio.run(scenario())


def test_a_crashing_source_collapses_the_agent() -> None:
    async def scenario() -> None:
        started = asyncio.Event()

        async def slow(data: Any) -> Any:
            started.set()
            await asyncio.sleep(60)

        async def source(agent: FluxAgent) -> None:
            agent.emit("hello")
            await started.wait()
            raise RuntimeError("event log unreadable")

        agent = FluxAgent("a", slow, source=source)
        await agent.start()
        pending = await agent.perturb("x")
        with pytest.raises(AgentCollapsed, match="event log unreadable"):
            await asyncio.wait_for(pending.result, 2)
        assert kinds(agent)[-1] == "collapsed"

    asyncio.run(scenario())


def test_queue_full_and_entropy_budget() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def handler(data: Any) -> Any:
            await gate.wait()
            return data

        config = FluxConfig(buffer_size=2, drop_policy=DropPolicy.DROP_NEWEST)
        agent = FluxAgent("a", handler, config=config)
        await agent.start()
        await agent.perturb(0)
        await asyncio.sleep(0)
        await agent.perturb(1)
        await agent.perturb(2)
        with pytest.raises(QueueFull):
            await agent.perturb(3)
        gate.set()

        budgeted = FluxAgent("b", handler, config=FluxConfig(entropy_budget=2.0))
        await budgeted.start()
        await budgeted.perturb("x")
        await budgeted.perturb("y")
        with pytest.raises(EntropyExhausted):
            await budgeted.perturb("z")
        assert budgeted.temperature == 1.0

    asyncio.run(scenario())


def test_stop_drains_what_was_queued() -> None:
    async def scenario() -> None:
        async def handler(data: Any) -> Any:
            await asyncio.sleep(0.01)
            return data

        agent = FluxAgent("a", handler)
        await agent.start()
        queued = [await agent.perturb(i) for i in range(5)]
        await agent.stop()
        assert [p.result.result() for p in queued] == list(range(5))
        assert agent.state is FluxState.STOPPED
        assert [e.data.get("to") for e in agent.mirror.recent() if e.type == "state_changed"] == [
            "FLOWING",
            "DRAINING",
            "STOPPED",
        ]

    asyncio.run(scenario())
