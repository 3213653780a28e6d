"""The demo world: one fixture set's scene, and the sets there are."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from gateway.agents.registry import AgentRegistry
from gateway.agents.world import WorldAgent
from gateway.routes import deps
from kgents_assets.hotdata.world_view import DEFAULT_SET, UnknownFixtureSet

router = APIRouter(prefix="/api/world", tags=["world"])

# The world loads its fixtures when the agent starts (milliseconds); a page that asks in
# that instant waits for it rather than getting an empty scene.
READY_TIMEOUT_S = 10.0


async def world_agent(
    registry: Annotated[AgentRegistry, Depends(deps.registry)],
) -> WorldAgent:
    agent = registry.get("world")
    if not isinstance(agent, WorldAgent):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this gateway hosts no world agent")
    try:
        await asyncio.wait_for(agent.ready.wait(), READY_TIMEOUT_S)
    except TimeoutError:
        reason = agent.collapse_reason or "still loading"
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"the demo world is not loaded: {reason}"
        ) from None
    return agent


World = Annotated[WorldAgent, Depends(world_agent)]


@router.get("")
async def scene(agent: World, set: str = DEFAULT_SET) -> dict[str, Any]:
    """The scene of fixture set ``set``: grid, gardens, turns awaiting approval, thoughts,
    and where each part comes from (with the problems of invalid or deleted files)."""
    try:
        found = agent.world.scene(set)
    except UnknownFixtureSet as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return {
        **found.model_dump(mode="json"),
        "dev": agent.dev,
        "problems": [p.model_dump(mode="json") for p in found.problems],
        "notices": found.notices,
    }


@router.get("/sets")
async def sets(agent: World) -> dict[str, Any]:
    """Every fixture set: its fixture per kind, and which of them are its own."""
    return {
        "default": DEFAULT_SET,
        "dev": agent.dev,
        "sets": [
            {
                "name": name,
                "fixtures": kinds,
                "own": [f for f in kinds.values() if f.rsplit("/", 1)[-1] == name],
            }
            for name, kinds in agent.world.sets.items()
        ],
    }
