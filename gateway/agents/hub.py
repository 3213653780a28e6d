"""`hub`: streams updates of the code model (materializations of the `code` assets).

Each materialization of the assets in group ``code`` is a ``node_update`` (with its
metadata: files scanned, nodes changed, ...); after a ``node_state`` update, the nodes
that run decided about follow one by one as ``node_changed`` (from its decision traces),
so the stream says which node changed and how.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from dagster import DagsterInstance

from gateway.agents.dagster_feed import MATERIALIZATION, DagsterEventFeed, FeedEvent, follow
from gateway.agents.narrated import NarratedAgent
from kgents_assets.code_asset_keys import CODE_ASSET_KEYS
from kgents_assets.flux import FluxAgent, FluxConfig, HolographicBuffer
from kgents_assets.hub.traces import nodes_of_run
from kgents_assets.store import Store

log = logging.getLogger(__name__)
NODES_PER_RUN = 50  # a cold build decides about thousands: the stream tells the first few


def code_group_asset_keys() -> set[str]:
    """Asset keys of group ``code``: the shared constant, not the loaded code location."""
    return set(CODE_ASSET_KEYS)


def make_hub_agent(
    instance: DagsterInstance,
    mirror: HolographicBuffer,
    asset_keys: Iterable[str] | Callable[[], set[str]] | None = None,
    poll_interval_s: float = 0.5,
    store: Store | None = None,
) -> FluxAgent:
    """With ``store``, each node a run decided about follows its ``node_state`` update as
    a ``node_changed`` event ("utils.text.capfirst: signature changed")."""
    state: dict[str, Any] = {"keys": set(), "updates": 0}
    telling: set[asyncio.Task[None]] = set()

    async def tell_nodes(agent: FluxAgent, run_id: str) -> None:
        assert store is not None

        def read() -> list[dict[str, Any]]:
            with store.connect() as conn:
                return nodes_of_run(conn, run_id, NODES_PER_RUN + 1)

        try:
            nodes = await asyncio.to_thread(read)
        except Exception as exc:  # the store going away must not stop the stream
            log.warning("hub agent: cannot read the traces of run %s: %s", run_id, exc)
            return
        for node in nodes[:NODES_PER_RUN]:
            agent.emit("node_changed", {"run_id": run_id, **node})
        if len(nodes) > NODES_PER_RUN:
            agent.emit("nodes_truncated", {"run_id": run_id, "shown": NODES_PER_RUN})

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
                if store is not None and event.data.get("asset_key") == "node_state":
                    task = asyncio.get_running_loop().create_task(
                        tell_nodes(agent, str(event.data.get("run_id")))
                    )
                    telling.add(task)
                    task.add_done_callback(telling.discard)

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
