"""``GET /api/repos``: the repositories this deployment models (the store's registry)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gateway.routes import deps
from kgents_assets.repos.registry import list_repositories
from kgents_assets.store import Store

router = APIRouter(prefix="/api", tags=["repositories"])


@router.get("/repos")
async def repos(store: Annotated[Store, Depends(deps.store)]) -> list[dict[str, Any]]:
    """Every registered repository: name, source (local|git), location, branch, and when
    and at which commit it was last refreshed."""
    found = await asyncio.to_thread(list_repositories, store)
    return [repo.model_dump(mode="json") for repo in found]
