"""``create_app``: the gateway's FastAPI application and the life cycle of its agents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from gateway import observe, perturb
from gateway.agents.registry import AgentRegistry
from gateway.prometheus import metrics_registry
from gateway.routes import agents as agent_routes
from gateway.routes import ci, fixtures, health, library, metrics, nodes, purgatory
from gateway.settings import GatewaySettings
from gateway.transport import CaptureTransport
from kgents_assets.flux import FluxAgent, HolographicBuffer, Purgatory
from kgents_assets.store import DatabaseUnavailable, Store, open_store

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

AgentFactory = Callable[["GatewayContext"], Sequence[FluxAgent]]


class GatewayContext:
    """What agent factories get: settings, the purgatory, and a mirror maker."""

    def __init__(self, settings: GatewaySettings, purgatory: Purgatory) -> None:
        self.settings = settings
        self.purgatory = purgatory

    def mirror(self, agent_id: str) -> HolographicBuffer:
        return HolographicBuffer(
            agent_id,
            capacity=self.settings.ring_capacity,
            history=self.settings.history,
            send_timeout_s=self.settings.observer_send_timeout_s,
            coalesce_s=self.settings.observer_coalesce_s,
        )


def default_agents(context: GatewayContext) -> list[FluxAgent]:
    """`daemon` always; `pipeline` and `hub` when the Dagster agents are enabled."""
    from gateway.agents.daemon import make_daemon_agent

    settings = context.settings
    hosted = [make_daemon_agent(context.mirror("daemon"), context.purgatory)]
    if settings.dagster_agents:
        from dagster import DagsterInstance

        from gateway.agents.hub import make_hub_agent
        from gateway.agents.pipeline import make_pipeline_agent

        settings.dagster.mkdir(parents=True, exist_ok=True)
        instance = DagsterInstance.from_config(str(settings.dagster))
        hosted.append(
            make_pipeline_agent(instance, context.mirror("pipeline"), settings.poll_interval_s)
        )
        hosted.append(
            make_hub_agent(
                instance,
                context.mirror("hub"),
                settings.hub_asset_keys,
                settings.poll_interval_s,
            )
        )
    return hosted


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
            opened = await asyncio.to_thread(
                open_store, config.database_url, agentfs_dir=config.agentfs
            )
        app.state.store = opened
        app.state.purgatory = Purgatory(opened)
        context = GatewayContext(config, app.state.purgatory)
        for agent in await asyncio.to_thread(agents, context):
            registry.add(agent)
        await registry.start_all()
        log.info(
            "gateway up: agents %s; steering %s",
            ", ".join(a.id for a in registry),
            "enabled" if config.token else "disabled (no KGENTS_GATEWAY_TOKEN)",
        )
        try:
            yield
        finally:
            await registry.stop_all()

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
    app.state.metrics = metrics_registry(registry)
    app.add_middleware(CaptureTransport)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)

    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(agent_routes.router)
    app.include_router(nodes.router)
    app.include_router(fixtures.router)
    app.include_router(purgatory.router)
    app.include_router(ci.router)  # its own token check (bearer or GitHub signature)
    library.include_if_available(app)
    app.include_router(observe.router)
    app.include_router(perturb.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app
