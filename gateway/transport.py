"""Reach the socket under a websocket, for the two things ASGI cannot express.

1. Cap the kernel send buffer (SO_SNDBUF) and the transport's write buffer of observer
   sockets, so a stalled browser pins kilobytes, not the ~3.4 MB Linux grants by default.
2. Abort a dropped observer's connection. A graceful close waits for the peer to read
   what is queued, which a stalled peer never does.

uvicorn hands the app its protocol's bound ``send``; this middleware (outermost, so it
sees uvicorn's own callable) records that protocol's transport in the scope. Under any
other server the transport is simply absent and both operations degrade to no-ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

SCOPE_KEY = "kgents.transport"


class CaptureTransport:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if _is_transport(transport):
                scope[SCOPE_KEY] = transport
        await self.app(scope, receive, send)


def _is_transport(candidate: object) -> bool:
    # Duck-typed: uvloop's transports (uvicorn's default loop) do not subclass
    # asyncio.Transport but offer the same methods.
    return all(
        callable(getattr(candidate, name, None))
        for name in ("abort", "get_extra_info", "set_write_buffer_limits")
    )


def transport_of(scope: Scope) -> asyncio.Transport | None:
    found: Any = scope.get(SCOPE_KEY)
    return found if _is_transport(found) else None


def cap_send_buffers(scope: Scope, sndbuf_bytes: int, high_water: int) -> int | None:
    """Cap this connection's buffers; returns the kernel's effective SO_SNDBUF."""
    transport = transport_of(scope)
    if transport is None:
        return None
    transport.set_write_buffer_limits(high=high_water, low=high_water // 4)
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf_bytes)
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    return None


def abort(scope: Scope) -> bool:
    transport = transport_of(scope)
    if transport is None:
        return False
    transport.abort()
    return True
