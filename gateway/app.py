"""``create_app``: the gateway's FastAPI application and the life cycle of its agents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway import observe, perturb
from gateway.agents.registry import AgentRegistry
from gateway.auth import require_read_token
from gateway.prometheus import metrics_registry
from gateway.routes import agents as agent_routes
from gateway.routes import ci, fixtures, health, library, metrics, nodes, purgatory, repos, world
from gateway.routes import context as context_routes
from gateway.settings import GatewaySettings
from gateway.streams import StreamReplica
from gateway.streams.leader import SourceLeadership
from gateway.transport import CaptureTransport
from kgents_assets.flux import FluxAgent, HolographicBuffer, Purgatory
from kgents_assets.store import DatabaseUnavailable, Store, open_store

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
#: How long a stopping source waits for its events to reach the shared stream (as long as
#: the replica's own stop waits for the rest)
SOURCE_FLUSH_S = 2.0

AgentFactory = Callable[["GatewayContext"], Sequence[FluxAgent]]


class GatewayContext:
    """What agent factories get: settings, the purgatory, and a mirror maker (a mirror of
    the shared stream when replicas share streams, else one in this process only)."""

    def __init__(
        self,
        settings: GatewaySettings,
        purgatory: Purgatory,
        streams: StreamReplica | None = None,
    ) -> None:
        self.settings = settings
        self.purgatory = purgatory
        self.streams = streams

    def mirror(self, agent_id: str) -> HolographicBuffer:
        ring: dict[str, Any] = {
            "capacity": self.settings.ring_capacity,
            "history": self.settings.history,
            "send_timeout_s": self.settings.observer_send_timeout_s,
            "coalesce_s": self.settings.observer_coalesce_s,
        }
        if self.streams is not None:
            return self.streams.mirror(agent_id, **ring)
        return HolographicBuffer(agent_id, **ring)


def default_agents(context: GatewayContext) -> list[FluxAgent]:
    """`daemon` always; `pipeline` and `hub` when the Dagster agents are enabled."""
    from gateway.agents.daemon import make_daemon_agent
    from gateway.agents.world import make_world_agent_for

    settings = context.settings
    hosted = [make_daemon_agent(context.mirror("daemon"), context.purgatory)]
    hosted.append(make_world_agent_for(context))
    if settings.dagster_agents:
        from gateway.agents.hub import make_hub_agent
        from gateway.agents.pipeline import make_pipeline_agent
        from kgents_assets.instance import get_instance

        instance = get_instance(settings.dagster)
        hosted.append(
            make_pipeline_agent(instance, context.mirror("pipeline"), settings.poll_interval_s)
        )
        hosted.append(
            make_hub_agent(
                instance,
                context.mirror("hub"),
                settings.hub_asset_keys,
                settings.poll_interval_s,
                store=context.purgatory.store,
            )
        )
    return hosted


def _one_producer_per_source(registry: AgentRegistry, leadership: SourceLeadership) -> None:
    """Replicas share streams: an agent's source (an outside feed) runs on one of them."""
    for agent in registry:
        source = agent._source  # the flux runtime starts whatever is set here
        if source is not None:
            agent._source = leadership.gate(agent.id, source)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Any route whose store went away answers 503 with the reason, not a bare 500."""
    return JSONResponse({"detail": str(exc)}, status_code=503)


def create_app(
    settings: GatewaySettings | None = None,
    *,
    agents: AgentFactory = default_agents,
    store: Store | None = None,
) -> FastAPI:
    config = settings or GatewaySettings.from_env()
    registry = AgentRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store
        if opened is None:
            opened = await asyncio.to_thread(open_store, config.database_url)
        app.state.store = opened
        app.state.purgatory = Purgatory(opened)
        streams = None
        if config.shared_streams:
            streams = StreamReplica(opened, retention=config.stream_retention)
        app.state.streams = streams
        context = GatewayContext(config, app.state.purgatory, streams)
        for agent in await asyncio.to_thread(agents, context):
            registry.add(agent)
        if streams is not None:
            # a stopped source's events are written before another replica may lead it
            leadership = SourceLeadership(opened, lambda: streams.flush(SOURCE_FLUSH_S))
            _one_producer_per_source(registry, leadership)
            await streams.start()
        await registry.start_all()
        log.info(
            "gateway up: agents %s; steering %s; reads %s; streams %s",
            ", ".join(a.id for a in registry),
            "enabled" if config.token else "disabled (no KGENTS_GATEWAY_TOKEN)",
            "need a token" if config.read_token else "open",
            "shared through PostgreSQL" if streams else "in this process",
        )
        try:
            yield
        finally:
            await registry.stop_all()
            if streams is not None:
                await streams.stop()

    app = FastAPI(
        title="kgents terrarium gateway",
        description="Live mirrors of the kgents agents, perturbation, and purgatory.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = config
    app.state.registry = registry
    app.state.store = store
    app.state.purgatory = None
    app.state.streams = None
    app.state.metrics = metrics_registry(
        registry, lambda: app.state.store, lambda: app.state.streams
    )
    app.add_middleware(CaptureTransport)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)

    app.include_router(health.router)
    app.include_router(metrics.router)
    # Everything that shows data needs the read token when one is configured.
    reads = [Depends(require_read_token)]
    for router in (agent_routes.router, nodes.router, repos.router, fixtures.router, world.router):
        app.include_router(router, dependencies=reads)
    app.include_router(purgatory.router, dependencies=reads)
    app.include_router(context_routes.router, dependencies=reads)
    app.include_router(ci.router)  # its own token check (bearer or GitHub signature)
    library.include_if_available(app, dependencies=reads)
    app.include_router(observe.router)
    app.include_router(perturb.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app
