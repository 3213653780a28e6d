"""Node state (KV ``node:{node_id}:state``) and its rendered markdown."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from gateway.routes import deps
from gateway.settings import GatewaySettings
from kgents_assets.store import Store

router = APIRouter(prefix="/api/nodes", tags=["nodes"])


def _read_state(store: Store, node_id: str) -> dict[str, Any] | None:
    with store.connect() as conn:
        row = conn.execute(
            "SELECT value FROM kv WHERE key = %s", (f"node:{node_id}:state",)
        ).fetchone()
    return None if row is None else dict(row[0])


def _read_markdown(repo_root: Path, relative: object) -> str | None:
    if not isinstance(relative, str) or not relative:
        return None
    root = repo_root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):  # a state must never make us read outside the repo
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None


@router.get("/{node_id}")
async def node(
    node_id: str,
    store: Annotated[Store, Depends(deps.store)],
    settings: Annotated[GatewaySettings, Depends(deps.settings)],
) -> dict[str, Any]:
    """The node's state and markdown; 404 when the node has no state (``markdown`` is
    null when the state names no markdown file or the file is missing)."""
    state = await asyncio.to_thread(_read_state, store, node_id)
    if state is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no state for node {node_id!r}")
    markdown = await asyncio.to_thread(
        _read_markdown, settings.repo_root, state.get("markdown_path")
    )
    return {
        "node_id": node_id,
        "state": state,
        "markdown_path": state.get("markdown_path"),
        "markdown": markdown,
    }
