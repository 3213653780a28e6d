"""Liveness (the process answers) and readiness (the store answers, agents are up)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway.agents.registry import AgentRegistry
from gateway.routes import deps
from kgents_assets.store import DatabaseUnavailable, Store

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def _ping(store: Store) -> None:
    with store.connect() as conn:
        conn.execute("SELECT 1")


@router.get("/ready")
async def ready(
    request: Request, registry: Annotated[AgentRegistry, Depends(deps.registry)]
) -> JSONResponse:
    store: Store | None = request.app.state.store
    checks: dict[str, Any] = {"agents": {agent.id: agent.state.value for agent in registry}}
    ok = True
    if store is None:
        checks["store"] = "not open"
        ok = False
    else:
        try:
            await asyncio.wait_for(asyncio.to_thread(_ping, store), 5)
            checks["store"] = "ok"
        except (DatabaseUnavailable, TimeoutError) as exc:
            checks["store"] = f"unavailable: {exc}"
            ok = False
    return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)
