"""``GET /api/context``: the hub context of one code node, for coding agents.

Always answers 200 with a ``HubContextBlob``: a node the hub does not know, a repository
that does not exist and a store that went away all come back as ``missing`` with the
reason and a warning saying what to use instead, so an agent's tooling never has to
handle an error to keep working.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request

from kgents_assets.hub.context import DEFAULT_TOP_N, HubContextBlob, node_context
from kgents_assets.hub.freshness import DEFAULT_MAX_AGE_S
from kgents_assets.store import Store

router = APIRouter(prefix="/api", tags=["context"])


@router.get("/context")
async def context(
    request: Request,
    target: Annotated[
        str,
        Query(
            min_length=1,
            max_length=1000,
            description="a node id, a (qualified) name, or path:line",
        ),
    ],
    repo: Annotated[str | None, Query(max_length=64, description="repository name")] = None,
    top: Annotated[int, Query(ge=1, le=200, description="callers/callees returned")] = (
        DEFAULT_TOP_N
    ),
    max_age_s: Annotated[float, Query(ge=0, description="older states count as stale")] = (
        DEFAULT_MAX_AGE_S
    ),
) -> HubContextBlob:
    store: Store | None = request.app.state.store
    return await asyncio.to_thread(
        node_context, store, target, repo=repo, top_n=top, max_age_s=max_age_s, surface="rest"
    )
