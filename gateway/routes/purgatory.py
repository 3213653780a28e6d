"""Purgatory: the semaphores waiting for a human, and resolving or cancelling them."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel

from gateway.auth import require_token
from gateway.routes import deps
from kgents_assets.flux import FluxAgent, Purgatory, TokenClosed, TokenNotFound, Transition

router = APIRouter(prefix="/api/purgatory", tags=["purgatory"])

Agent = Annotated[FluxAgent, Depends(deps.agent)]


class Resolution(BaseModel):
    input: Any = "approve"


class Cancellation(BaseModel):
    reason: str = ""


def _outcome(transition: Transition) -> dict[str, Any]:
    return {"token": transition.token.public(), "changed": transition.changed}


@router.get("/{agent_id}/pending")
async def pending(agent: Agent, _: Annotated[Purgatory, Depends(deps.purgatory)]) -> list[Any]:
    return [token.public() for token in await agent.pending_tokens()]


@router.post("/{agent_id}/resolve/{token_id}", dependencies=[Depends(require_token)])
async def resolve(agent: Agent, token_id: str, body: Resolution | None = None) -> dict[str, Any]:
    """Resolve once; repeating it returns the first resolution with ``changed: false``."""
    if agent.purgatory is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"agent {agent.id} has no purgatory")
    try:
        transition = await agent.resolve(token_id, (body or Resolution()).input)
    except TokenNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except TokenClosed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return _outcome(transition)


@router.post("/{agent_id}/cancel/{token_id}", dependencies=[Depends(require_token)])
async def cancel(agent: Agent, token_id: str, body: Cancellation | None = None) -> dict[str, Any]:
    if agent.purgatory is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"agent {agent.id} has no purgatory")
    try:
        transition = await agent.cancel(token_id, (body or Cancellation()).reason)
    except TokenNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except TokenClosed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return _outcome(transition)


@router.get("/{agent_id}/audit/{token_id}")
async def audit(
    agent: Agent, token_id: str, purgatory: Annotated[Purgatory, Depends(deps.purgatory)]
) -> dict[str, Any]:
    try:
        token = await asyncio.to_thread(purgatory.get, token_id, agent.id)
    except TokenNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    entries = await asyncio.to_thread(purgatory.audit, token_id)
    return {"token": token.public(), "audit": [e.model_dump(mode="json") for e in entries]}
