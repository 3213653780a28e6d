"""Serve the gateway with uvicorn, configured the way the mirror needs."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from gateway.settings import GatewaySettings


def uvicorn_config(
    app: FastAPI,
    settings: GatewaySettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    log_level: str = "info",
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # The sans-I/O implementation pauses a sender when its transport buffer is full
        # (instead of buffering without bound) and gives us the transport to abort.
        ws="websockets-sansio",
        ws_max_size=settings.max_message_bytes,  # larger messages: close 1009
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        backlog=4096,  # 1,000 observers may connect at once
        lifespan="on",
        log_level=log_level,
        reload=False,
    )
