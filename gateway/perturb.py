"""``ws /perturb/{agent_id}``: inject perturbations into an agent and get the results.

Authenticate with ``Authorization: Bearer <token>``, or (browsers cannot set headers on
websockets) with a first message ``{"type": "auth", "token": "..."}``. Then send
``{"data": ..., "priority": 100, "id": "optional correlation id"}``; the reply is
``{"type": "result", "id": ..., "result": ...}`` or ``{"type": "error", ...}``, preceded by
``{"type": "ejected", "token": {...}}`` when the agent asks a human first.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.websockets import WebSocketDisconnect

from gateway.agents.registry import AgentRegistry
from gateway.auth import bearer_token, token_matches
from gateway.close_codes import CloseCode
from gateway.settings import GatewaySettings
from kgents_assets.flux import (
    DEFAULT_PRIORITY,
    AgentNotFlowing,
    EntropyExhausted,
    FluxAgent,
    Perturbation,
    QueueFull,
)

router = APIRouter()


class PerturbRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: Any
    priority: int = DEFAULT_PRIORITY
    id: str | int | None = None


class _Connection:
    """Serialises sends from the tasks answering concurrent perturbations."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        async with self._lock:
            await self.websocket.send_text(json.dumps(payload, default=str))


async def _authenticate(websocket: WebSocket, settings: GatewaySettings) -> bool:
    if settings.token is None:
        await websocket.close(
            CloseCode.FORBIDDEN, "perturbation is disabled: no KGENTS_GATEWAY_TOKEN configured"
        )
        return False
    presented = bearer_token(websocket.headers)
    if presented is None:
        try:
            message = await asyncio.wait_for(websocket.receive_text(), settings.auth_timeout_s)
            payload = json.loads(message)
            if isinstance(payload, dict) and payload.get("type") == "auth":
                presented = str(payload.get("token") or "") or None
        except (TimeoutError, ValueError, KeyError, RuntimeError):
            presented = None
    if not token_matches(settings.token, presented):
        await websocket.close(CloseCode.UNAUTHENTICATED, "missing or invalid token")
        return False
    return True


@router.websocket("/perturb/{agent_id}")
async def perturb(websocket: WebSocket, agent_id: str) -> None:
    registry: AgentRegistry = websocket.app.state.registry
    settings: GatewaySettings = websocket.app.state.settings
    await websocket.accept()
    try:
        if not await _authenticate(websocket, settings):
            return
        agent = registry.get(agent_id)
        if agent is None:
            await websocket.close(CloseCode.UNKNOWN_AGENT, f"unknown agent {agent_id!r}")
            return
        if not agent.takes_perturbations:
            await websocket.close(CloseCode.FORBIDDEN, f"agent {agent_id} only streams")
            return
        connection = _Connection(websocket)
        await connection.send({"type": "ready", "agent_id": agent_id, "state": agent.state})
        await _serve(websocket, connection, agent, settings)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def _serve(
    websocket: WebSocket, connection: _Connection, agent: FluxAgent, settings: GatewaySettings
) -> None:
    answering: set[asyncio.Task[None]] = set()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await connection.send({"type": "error", "error": "send JSON text frames"})
                continue
            if len(text.encode()) > settings.max_message_bytes:
                await websocket.close(CloseCode.MESSAGE_TOO_BIG, "message too big")
                return
            try:
                request = PerturbRequest.model_validate_json(text)
            except ValidationError as exc:
                error = exc.errors()[0]
                kind = "malformed JSON" if error["type"] == "json_invalid" else "invalid request"
                await connection.send(
                    {"type": "error", "error": f"{kind}: {error['msg']}", "loc": error["loc"]}
                )
                continue
            try:
                perturbation = await agent.perturb(
                    request.data, priority=request.priority, wait_for_room=False
                )
            except (QueueFull, EntropyExhausted) as exc:
                await websocket.close(CloseCode.QUEUE_FULL, str(exc)[:120])
                return
            except AgentNotFlowing as exc:
                await connection.send({"type": "error", "id": request.id, "error": str(exc)})
                continue
            task = asyncio.create_task(_answer(connection, request, perturbation))
            answering.add(task)
            task.add_done_callback(answering.discard)
    finally:
        for task in answering:
            task.cancel()


async def _answer(connection: _Connection, request: PerturbRequest, p: Perturbation) -> None:
    await asyncio.wait({p.result, p.ejected}, return_when=asyncio.FIRST_COMPLETED)
    if p.ejected.done() and not p.ejected.cancelled():
        token = p.ejected.result()
        await connection.send({"type": "ejected", "id": request.id, "token": token.public()})
    try:
        result = await p.result
    except Exception as exc:
        await connection.send(
            {"type": "error", "id": request.id, "error": f"{type(exc).__name__}: {exc}"}
        )
    else:
        await connection.send({"type": "result", "id": request.id, "result": result})
