"""`hub`: streams updates of the code model (materializations of the `code` assets).

Each materialization of the assets in group ``code`` is a ``node_update`` (with its
metadata: files scanned, nodes changed, ...); after a ``node_state`` update, the nodes
that run decided about follow one by one as ``node_changed`` (from its decision traces),
so the stream says which node changed and how.

With a store, it also shows what the hub's demos write, as they write it: a failure
bundle (``failure_bundle``), an impact summary (``impact_summary``), a generated test
written and run or proposed to a person (``test_created``, ``test_proposed``). Their
writers run in other processes (a Dagster run worker, ``kg hub``, the MCP server) and
journal each file in ``hub_artifacts``; this source follows that table by id, polled at
the cadence it already polls Dagster's event log (one primary-key range read). Only the
replica leading this source reads it, so on shared streams each artifact is one event.
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
from kgents_assets.hub.artifacts import Artifact, artifacts_after, last_artifact_id
from kgents_assets.hub.traces import nodes_of_run
from kgents_assets.store import Store

log = logging.getLogger(__name__)
NODES_PER_RUN = 50  # a cold build decides about thousands: the stream tells the first few
ARTIFACTS_PER_POLL = 100


def artifact_event(artifact: Artifact) -> dict[str, Any]:
    """The event data of one artifact: its sentence first, then where to find it."""
    return {
        **artifact.data,
        "summary": artifact.summary,
        "artifact_id": artifact.id,
        "repo": artifact.repo,
        "subject": artifact.subject,
        "path": artifact.path,
        "at": artifact.at.isoformat(),
    }


def artifact_head(store: Store) -> int:
    with store.connect() as conn:
        return last_artifact_id(conn)


async def follow_artifacts(
    agent: FluxAgent, store: Store, cursor: int, poll_interval_s: float
) -> None:
    """Emit each artifact journaled after ``cursor`` (the head when the source started),
    in id order.

    Not from zero: the stream's own history (and ``since=``) replays what was shown
    before; a new leader picks up at its own start.
    """
    failures = 0

    def read(after: int) -> list[Artifact]:
        with store.connect() as conn:
            return artifacts_after(conn, after, ARTIFACTS_PER_POLL)

    while True:
        try:
            found = await asyncio.to_thread(read, cursor)
        except Exception as exc:  # the store going away must not stop the stream
            failures += 1
            log.warning("hub agent: cannot read the artifact journal: %s", exc)
            await asyncio.sleep(min(10.0, poll_interval_s * 2**failures))
            continue
        failures = 0
        for artifact in found:
            agent.emit(artifact.kind, artifact_event(artifact))
            cursor = artifact.id
        if len(found) < ARTIFACTS_PER_POLL:
            await asyncio.sleep(poll_interval_s)


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
        # read before "watching": whatever is written after that event is shown
        head = await asyncio.to_thread(artifact_head, store) if store is not None else 0
        agent.emit("watching", {"asset_keys": sorted(keys)})
        feed = await asyncio.to_thread(DagsterEventFeed, instance, (MATERIALIZATION,))

        def mirror_event(event: FeedEvent) -> None:
            if event.data.get("asset_key") in keys:
                state["updates"] += 1
                agent.emit("node_update", {"storage_id": event.storage_id, **event.data})
                if store is not None and event.data.get("asset_key") == "node_state":
                    task = asyncio.get_running_loop().create_task(
                        # A watch daemon's refresh is recorded without a run: its
                        # traces carry the refresh_id of its metadata instead.
                        tell_nodes(
                            agent,
                            str(
                                event.data.get("run_id")
                                or (event.data.get("metadata") or {}).get("refresh_id")
                            ),
                        )
                    )
                    telling.add(task)
                    task.add_done_callback(telling.discard)

        if store is None:
            await follow(agent, feed, mirror_event, poll_interval_s)
            return
        artifacts = asyncio.get_running_loop().create_task(
            follow_artifacts(agent, store, head, poll_interval_s)
        )
        try:
            await follow(agent, feed, mirror_event, poll_interval_s)
        finally:  # the feed failing for good, or leadership lost: stop both
            artifacts.cancel()

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
