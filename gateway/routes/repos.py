"""``GET /api/repos``: the repositories this deployment models (the store's registry)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gateway.routes import deps
from kgents_assets.hub.integrity import repository_counts
from kgents_assets.repos.registry import list_repositories
from kgents_assets.store import Store

router = APIRouter(prefix="/api", tags=["repositories"])


def _listing(store: Store) -> list[dict[str, Any]]:
    rows = []
    with store.connect() as conn:
        for repo in list_repositories(store):
            rows.append({**repo.model_dump(mode="json"), **repository_counts(conn, repo.name)})
    return rows


@router.get("/repos")
async def repos(store: Annotated[Store, Depends(deps.store)]) -> list[dict[str, Any]]:
    """Every registered repository: name, source (local|git), location, branch, when and
    at which commit it was last refreshed, and how many files and nodes it has."""
    return await asyncio.to_thread(_listing, store)
