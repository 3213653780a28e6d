"""`hub`: streams updates of the code model (materializations of the `code` assets).

The hub's assets write node states; until it emits node-level events itself, the
materializations of the assets in group ``code`` (with their metadata: files scanned,
nodes changed, ...) are the node-update stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from dagster import DagsterInstance

from gateway.agents.dagster_feed import MATERIALIZATION, DagsterEventFeed, FeedEvent, follow
from gateway.agents.narrated import NarratedAgent
from kgents_assets.code_asset_keys import CODE_ASSET_KEYS
from kgents_assets.flux import FluxAgent, FluxConfig, HolographicBuffer


def code_group_asset_keys() -> set[str]:
    """Asset keys of group ``code``: the shared constant, not the loaded code location."""
    return set(CODE_ASSET_KEYS)


def make_hub_agent(
    instance: DagsterInstance,
    mirror: HolographicBuffer,
    asset_keys: Iterable[str] | Callable[[], set[str]] | None = None,
    poll_interval_s: float = 0.5,
) -> FluxAgent:
    state: dict[str, Any] = {"keys": set(), "updates": 0}

    async def source(agent: FluxAgent) -> None:
        if asset_keys is None:
            keys = code_group_asset_keys()
        elif callable(asset_keys):
            keys = await asyncio.to_thread(asset_keys)
        else:
            keys = set(asset_keys)
        state["keys"] = keys
        agent.emit("watching", {"asset_keys": sorted(keys)})
        feed = await asyncio.to_thread(DagsterEventFeed, instance, (MATERIALIZATION,))

        def mirror_event(event: FeedEvent) -> None:
            if event.data.get("asset_key") in keys:
                state["updates"] += 1
                agent.emit("node_update", {"storage_id": event.storage_id, **event.data})

        await follow(agent, feed, mirror_event, poll_interval_s)

    async def handler(data: Any) -> Any:
        op = data.get("op") if isinstance(data, dict) else data
        if op == "status":
            return {"asset_keys": sorted(state["keys"]), "updates": state["updates"]}
        raise ValueError(f"hub understands {{'op': 'status'}}, not {data!r}")

    return NarratedAgent(
        "hub",
        handler,
        config=FluxConfig(buffer_size=16),
        mirror=mirror,
        source=source,
        description="code-model updates: materializations of the `code` assets",
    )
