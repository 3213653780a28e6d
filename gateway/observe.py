"""``ws /observe/{agent_id}``: the public, read-only mirror of an agent.

Wire format: every text message holds one or more JSON objects separated by newlines
(several when the observer was behind: frames are coalesced, never re-encoded). The first
object is ``{"type": "hello", ...}`` (epoch, head, where replay starts); every event after
it carries ``seq``. Reconnect with ``?since=<last seq seen>`` to continue exactly there.

When the gateway has a read token, present it as ``Authorization: Bearer`` or, from a
browser (which cannot set headers on a websocket), as ``?token=``; otherwise close 4401.
With shared streams (gateway/streams) a resume older than the ring is served from the
table first, and a resume from a replica that is ahead waits briefly for this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from gateway.agents.registry import AgentRegistry
from gateway.auth import bearer_token, read_allowed
from gateway.close_codes import CloseCode
from gateway.settings import GatewaySettings
from gateway.streams import SharedMirror, journal
from gateway.transport import abort, cap_send_buffers
from kgents_assets.flux import HolographicBuffer, Observer, ObserverDropped
from kgents_assets.store import Store

router = APIRouter()
log = logging.getLogger(__name__)

# How long a dropped observer gets to read what is queued and take its close frame (a
# slow reader does; a stalled one does not and is then aborted).
CLOSE_GRACE_S = 3.0
# A client resuming from a replica a few milliseconds ahead of this one: how long to wait
# for our listener before treating its ``since`` as belonging to another epoch.
RESUME_WAIT_S = 2.0


@router.websocket("/observe/{agent_id}")
async def observe(
    websocket: WebSocket, agent_id: str, since: int | None = None, token: str | None = None
) -> None:
    registry: AgentRegistry = websocket.app.state.registry
    settings: GatewaySettings = websocket.app.state.settings
    await websocket.accept()
    if not read_allowed(settings, bearer_token(websocket.headers) or token):
        await websocket.close(CloseCode.UNAUTHENTICATED, "missing or invalid read token")
        return
    agent = registry.get(agent_id)
    if agent is None:
        await websocket.close(CloseCode.UNKNOWN_AGENT, f"unknown agent {agent_id!r}")
        return
    if registry.observer_count >= settings.max_observers:
        await websocket.close(CloseCode.TRY_AGAIN_LATER, "too many observers; retry later")
        return
    sndbuf = cap_send_buffers(
        websocket.scope, settings.observer_sndbuf_bytes, settings.observer_write_high_water
    )
    mirror = agent.mirror
    sender: asyncio.Task[None] | None = None

    def on_drop(_: Observer) -> None:
        # Called by the mirror's watchdog: the sender may be stuck inside a send.
        if sender is not None:
            sender.cancel()

    if isinstance(mirror, SharedMirror) and since is not None and since > mirror.head:
        await mirror.wait_for_head(since, RESUME_WAIT_S)
    observer = mirror.attach(since, on_drop)
    try:
        older: list[str] = []
        if isinstance(mirror, SharedMirror) and since is not None and observer.gap is not None:
            older = await _from_table(websocket.app.state.store, agent_id, observer, since)
        hello = {
            "type": "hello",
            "agent_id": agent_id,
            "epoch": mirror.epoch,
            "head": mirror.head,
            "replay_from": observer.cursor - len(older),
            "gap": observer.gap,
            "reset": observer.reset,
            "sndbuf": sndbuf,  # the kernel send buffer this socket is capped at (bytes)
        }
        await websocket.send_text(json.dumps(hello))
        for start in range(0, len(older), mirror.max_batch):
            chunk = "\n".join(older[start : start + mirror.max_batch])
            try:
                await asyncio.wait_for(websocket.send_text(chunk), settings.observer_send_timeout_s)
            except TimeoutError:
                abort(websocket.scope)  # it takes nothing: the ring's watchdog rule, here
                return
        sender = asyncio.create_task(_pump(websocket, mirror, observer))
        receiver = asyncio.create_task(_discard_incoming(websocket))
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if observer.dropped is not None:
            await _close_dropped(websocket, observer)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client left (possibly mid-replay); nothing to clean but the cursor
    finally:
        mirror.detach(observer)


async def _from_table(store: Store, agent_id: str, observer: Observer, since: int) -> list[str]:
    """The frames after ``since`` that the ring no longer holds, from the shared table;
    ``observer.gap`` keeps only what the table lost too (trimmed by retention)."""

    def read() -> list[tuple[int, str]]:
        with store.connect() as conn:
            return journal.read_range(conn, agent_id, since, observer.cursor - 1, 2**31)

    rows = await asyncio.to_thread(read)
    if not rows:
        return []
    first = rows[0][0]
    observer.gap = (since + 1, first - 1) if first > since + 1 else None
    return [frame for _, frame in rows]


async def _pump(websocket: WebSocket, mirror: HolographicBuffer, observer: Observer) -> None:
    with contextlib.suppress(ObserverDropped):
        while True:
            batch = await mirror.next_batch(observer)
            mirror.sending(observer)
            await websocket.send_text("\n".join(batch.frames))
            mirror.sent(observer, batch)


async def _discard_incoming(websocket: WebSocket) -> None:
    """Read-only: anything a client sends is ignored; we only need to notice it leave."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _close_dropped(websocket: WebSocket, observer: Observer) -> None:
    reason = f"{observer.dropped}; resume with since={observer.last_delivered}"
    if observer.dropped == "stalled" and abort(websocket.scope):
        # It has taken nothing for send_timeout_s: a close frame queued behind the data
        # it is not reading would never arrive. Free its buffers now.
        return
    try:
        await asyncio.wait_for(websocket.close(CloseCode.OBSERVER_TOO_SLOW, reason), CLOSE_GRACE_S)
    except (TimeoutError, RuntimeError, OSError):
        # A stalled peer never drains what is queued, so it cannot get the close frame.
        abort(websocket.scope)
    else:
        # The close frame is queued; if the peer does not read it either, cut it off.
        asyncio.get_running_loop().call_later(CLOSE_GRACE_S, abort, websocket.scope)
