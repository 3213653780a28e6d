"""Client-side helpers for the gateway tests (real websockets over loopback)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


def parse(message: str | bytes) -> list[dict[str, Any]]:
    """A message holds one or more newline-separated JSON objects."""
    text = message.decode() if isinstance(message, bytes) else message
    return [json.loads(line) for line in text.split("\n") if line]


async def read_until(
    ws: ClientConnection, predicate: Any, within: float = 10.0
) -> list[dict[str, Any]]:
    """Read objects until ``predicate(obj)`` is true for one; return all read."""
    seen: list[dict[str, Any]] = []

    async def loop() -> list[dict[str, Any]]:
        while True:
            for obj in parse(await ws.recv()):
                seen.append(obj)
                if predicate(obj):
                    return seen

    return await asyncio.wait_for(loop(), within)


def seqs(objs: list[dict[str, Any]]) -> list[int]:
    return [o["seq"] for o in objs if "seq" in o]


async def close_code(ws: ClientConnection, within: float = 5) -> int:
    """Read until the server closes the socket; the close code it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code
