"""`hub`: streams updates of the code model (materializations of the `code` assets).

The hub's assets write node states; until it emits node-level events itself, the
materializations of the assets in group ``code`` (with their metadata: files scanned,
nodes changed, ...) are the node-update stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from dagster import DagsterInstance

from gateway.agents.dagster_feed import MATERIALIZATION, DagsterEventFeed, FeedEvent, follow
from gateway.agents.narrated import NarratedAgent
from kgents_assets.flux import FluxAgent, FluxConfig, HolographicBuffer

log = logging.getLogger(__name__)

CODE_GROUP = "code"
FALLBACK_KEYS = ("code_nodes", "node_state", "node_markdown", "catalog_embeddings")


def code_group_asset_keys() -> set[str]:
    """Asset keys of group ``code`` in the project's Definitions (imported lazily)."""
    try:
        from kgents_assets import definitions
    except Exception as exc:  # the code location failing to load must not stop the mirror
        log.warning(
            "hub agent: cannot load kgents_assets.definitions (%s); using %s",
            exc,
            ", ".join(FALLBACK_KEYS),
        )
        return set(FALLBACK_KEYS)
    graph = definitions.defs.resolve_asset_graph()
    return {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == CODE_GROUP
    }


def make_hub_agent(
    instance: DagsterInstance,
    mirror: HolographicBuffer,
    asset_keys: Iterable[str] | Callable[[], set[str]] | None = None,
    poll_interval_s: float = 0.5,
) -> FluxAgent:
    state: dict[str, Any] = {"keys": set(), "updates": 0}

    async def source(agent: FluxAgent) -> None:
        if asset_keys is None:
            keys = await asyncio.to_thread(code_group_asset_keys)
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
