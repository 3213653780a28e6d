"""The demo world: one fixture set's scene, and the sets there are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from gateway.agents.registry import AgentRegistry
from gateway.agents.world import WorldAgent
from gateway.routes import deps
from kgents_assets.hotdata.world_view import DEFAULT_SET, UnknownFixtureSet

router = APIRouter(prefix="/api/world", tags=["world"])


async def world_agent(
    registry: Annotated[AgentRegistry, Depends(deps.registry)],
) -> WorldAgent:
    agent = registry.get("world")
    if not isinstance(agent, WorldAgent):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this gateway hosts no world agent")
    return agent


World = Annotated[WorldAgent, Depends(world_agent)]


@router.get("")
async def scene(agent: World, set: str = DEFAULT_SET) -> dict[str, Any]:
    """The scene of fixture set ``set``: grid, gardens, turns awaiting approval, thoughts,
    and where each part comes from (with the problems of invalid or deleted files)."""
    try:
        kinds = agent.world.require_set(set)
    except UnknownFixtureSet as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    # Read what changed on disk since (a few stats): right even on a replica whose
    # watcher runs elsewhere, or before this agent's own first load has finished. What
    # this read noticed first is told on the stream, as the watcher would have.
    for change in await agent.world.refresh(kinds.values()):
        if change.change != "unchanged":
            agent.emit(change.event_type, change.event_data())
    found = agent.world.scene(set)
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
