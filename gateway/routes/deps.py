"""Shared FastAPI dependencies: the app's registry, store and settings."""

from __future__ import annotations

from fastapi import HTTPException, Request, status

from gateway.agents.registry import AgentRegistry
from gateway.settings import GatewaySettings
from kgents_assets.flux import FluxAgent, Purgatory
from kgents_assets.store import Store


async def registry(request: Request) -> AgentRegistry:
    found: AgentRegistry = request.app.state.registry
    return found


async def settings(request: Request) -> GatewaySettings:
    found: GatewaySettings = request.app.state.settings
    return found


async def store(request: Request) -> Store:
    found: Store | None = request.app.state.store
    if found is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the store is not open")
    return found


async def purgatory(request: Request) -> Purgatory:
    found: Purgatory | None = request.app.state.purgatory
    if found is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the store is not open")
    return found


async def agent(agent_id: str, request: Request) -> FluxAgent:
    found = (await registry(request)).get(agent_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown agent {agent_id!r}")
    return found
