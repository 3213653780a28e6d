"""`pipeline`: mirrors Dagster runs and materializations as they are written."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from dagster import DagsterInstance

from gateway.agents.dagster_feed import (
    MATERIALIZATION,
    RUN_EVENTS,
    DagsterEventFeed,
    FeedEvent,
)
from gateway.agents.narrated import NarratedAgent
from gateway.agents.run_durations import RunDurations
from kgents_assets.flux import FluxAgent, FluxConfig, HolographicBuffer
from kgents_assets.sentences import RunTally


def make_pipeline_agent(
    instance: DagsterInstance, mirror: HolographicBuffer, poll_interval_s: float = 0.5
) -> FluxAgent:
    seen: Counter[str] = Counter()
    tally = RunTally()  # a run's end is told with what it materialized and how long it took
    feed: DagsterEventFeed | None = None
    durations = RunDurations(instance)  # kgents_pipeline_run_seconds

    def poll() -> list[FeedEvent]:
        assert feed is not None
        events = feed.poll()
        durations.observe(events)
        return events

    async def source(agent: FluxAgent) -> None:
        nonlocal feed
        feed = await asyncio.to_thread(DagsterEventFeed, instance, (*RUN_EVENTS, MATERIALIZATION))
        while True:
            for event in await asyncio.to_thread(poll):
                seen[event.type] += 1
                data = {"storage_id": event.storage_id, **event.data}
                agent.emit(event.type, tally.observe(event.type, data))
            await asyncio.sleep(poll_interval_s)

    async def handler(data: Any) -> Any:
        op = data.get("op") if isinstance(data, dict) else data
        if op == "status":
            return {
                "events_seen": dict(seen),
                "cursor": feed.cursor if feed else None,
                "polls": feed.polls if feed else 0,
            }
        raise ValueError(f"pipeline understands {{'op': 'status'}}, not {data!r}")

    return NarratedAgent(
        "pipeline",
        handler,
        config=FluxConfig(buffer_size=16),
        mirror=mirror,
        source=source,
        description="Dagster runs and asset materializations, live from the instance",
    )
