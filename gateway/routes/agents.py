"""Agents: list, snapshot, metrics, and posting events into an agent's stream."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from gateway.agents.registry import AgentRegistry
from gateway.auth import require_token
from gateway.routes import deps
from kgents_assets.flux import FluxAgent

router = APIRouter(prefix="/api", tags=["agents"])

Agent = Annotated[FluxAgent, Depends(deps.agent)]


class AgentSummary(BaseModel):
    id: str
    description: str
    state: str
    pressure: float
    flow: float
    temperature: float
    queue_depth: int
    observers: int
    head_seq: int
    epoch: str
    collapse_reason: str | None
    takes_perturbations: bool


class PostedEvent(BaseModel):
    type: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.:-]*$")
    data: dict[str, Any] = Field(default_factory=dict)


def _summary(agent: FluxAgent) -> AgentSummary:
    return AgentSummary(**agent.summary(), takes_perturbations=agent.takes_perturbations)


@router.get("/agents", response_model=list[AgentSummary])
async def list_agents(
    registry: Annotated[AgentRegistry, Depends(deps.registry)],
) -> list[AgentSummary]:
    return [_summary(agent) for agent in registry]


@router.get("/{agent_id}/snapshot")
async def snapshot(agent: Agent, events: int = 20) -> dict[str, Any]:
    """The agent's gauges and configuration, and its most recent events."""
    return {
        **_summary(agent).model_dump(),
        "config": agent.config.model_dump(mode="json"),
        "recent_events": [e.model_dump(mode="json") for e in agent.mirror.recent(events)],
    }


@router.get("/{agent_id}/metrics")
async def metrics(agent: Agent) -> dict[str, Any]:
    return {"agent_id": agent.id, **agent.metrics()}


@router.post(
    "/agents/{agent_id}/events",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(require_token)],
)
async def post_event(
    agent_id: str,
    event: PostedEvent,
    registry: Annotated[AgentRegistry, Depends(deps.registry)],
    _: Agent,
) -> dict[str, Any]:
    """For event sources in other processes (the daemon): emit into the agent's mirror."""
    registry.post(agent_id, event.type, event.data)
    return {"accepted": True, "agent_id": agent_id}
