"""``GET /api/library/discover``: search the L-gent catalog (keyword, semantic, hybrid).

Served when ``kgents_assets.catalog.search`` is importable; the search itself (and its
errors) belong to the catalog package, this route only maps them to HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, status

from gateway.routes import deps
from kgents_assets.store import Store

log = logging.getLogger(__name__)


def include_if_available(app: FastAPI) -> bool:
    try:
        from kgents_assets.catalog import errors, search
    except Exception as exc:  # not installed, or broken: the rest of the gateway still runs
        log.warning("catalog search unavailable (%s): /api/library/discover not served", exc)
        return False

    router = APIRouter(prefix="/api/library", tags=["library"])

    @router.get("/discover")
    async def discover(
        store: Annotated[Store, Depends(deps.store)],
        q: Annotated[str, Query(min_length=1, max_length=500, description="what to find")],
        mode: Literal["keyword", "semantic", "hybrid"] = "hybrid",
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        entity_type: str | None = None,
        entry_status: Annotated[str | None, Query(alias="status")] = None,
    ) -> dict[str, Any]:
        try:
            hits = await asyncio.to_thread(
                search.discover, store, q, mode, limit, entity_type, entry_status
            )
        except errors.EmbedderMismatch as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except errors.CatalogError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
        except errors.EmbedderUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        return {
            "query": q,
            "mode": mode,
            "hits": [hit.model_dump(mode="json", exclude={"entry": {"body"}}) for hit in hits],
        }

    app.include_router(router)
    return True
