"""The L-gent catalog over REST: search (``/discover``: keyword, semantic, hybrid), list
(``/catalog``) and one entry (``/entries/{id}``), each narrowed by ``repo`` when given.

Served when ``kgents_assets.catalog`` is importable; the catalog's own errors are mapped
to HTTP here and nowhere else. ``kg library`` talks to these routes when
``KGENTS_GATEWAY_URL`` is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, status
from fastapi.params import Depends as DependsParam

from gateway.routes import deps
from kgents_assets.store import Store

log = logging.getLogger(__name__)

RepoFilter = Annotated[str | None, Query(description="only entries of this repository")]


def include_if_available(app: FastAPI, dependencies: Sequence[DependsParam] = ()) -> bool:
    try:
        from kgents_assets.catalog import errors, search, storage
        from kgents_assets.catalog.describe import describe_entry
        from kgents_assets.catalog.models import parse_entity_type, parse_status
    except Exception as exc:  # not installed, or broken: the rest of the gateway still runs
        log.warning("catalog unavailable (%s): /api/library/* not served", exc)
        return False

    router = APIRouter(prefix="/api/library", tags=["library"])

    def catalog_errors(exc: Exception) -> HTTPException:
        if isinstance(exc, errors.EntryNotFound):
            return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
        if isinstance(exc, errors.EmbedderMismatch):
            return HTTPException(status.HTTP_409_CONFLICT, str(exc))
        if isinstance(exc, errors.CatalogError):
            return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))
        if isinstance(exc, errors.EmbedderUnavailable):
            return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
        raise exc

    @router.get("/discover")
    async def discover(
        store: Annotated[Store, Depends(deps.store)],
        q: Annotated[str, Query(min_length=1, max_length=500, description="what to find")],
        mode: Literal["keyword", "semantic", "hybrid"] = "hybrid",
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        entity_type: str | None = None,
        entry_status: Annotated[str | None, Query(alias="status")] = None,
        repo: RepoFilter = None,
    ) -> dict[str, Any]:
        narrow: dict[str, Any] = {} if repo is None else {"repo": repo}
        try:
            hits = await asyncio.to_thread(
                search.discover, store, q, mode, limit, entity_type, entry_status, **narrow
            )
        except (errors.CatalogError, errors.EmbedderUnavailable) as exc:
            raise catalog_errors(exc) from exc
        return {
            "query": q,
            "mode": mode,
            "repo": repo,
            "hits": [hit.model_dump(mode="json", exclude={"entry": {"body"}}) for hit in hits],
        }

    @router.get("/catalog")
    async def catalog(
        store: Annotated[Store, Depends(deps.store)],
        entity_type: str | None = None,
        entry_status: Annotated[str | None, Query(alias="status")] = None,
        origin: Literal["node", "fixture", "registered"] | None = None,
        repo: RepoFilter = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        """Entries (without their body) by type then name."""

        def load() -> list[dict[str, Any]]:
            etype = parse_entity_type(entity_type).value if entity_type else None
            stat = parse_status(entry_status).value if entry_status else None
            with store.connect() as conn:
                entries = storage.list_entries(
                    conn, entity_type=etype, status=stat, origin=origin, repo=repo,
                    limit=limit, offset=offset,
                )  # fmt: skip
            return [e.model_dump(mode="json", exclude={"body"}) for e in entries]

        try:
            return await asyncio.to_thread(load)
        except errors.CatalogError as exc:
            raise catalog_errors(exc) from exc

    @router.get("/entries/{entry_id:path}")
    async def entry(
        entry_id: str, store: Annotated[Store, Depends(deps.store)], repo: RepoFilter = None
    ) -> dict[str, Any]:
        """The entry with its body, its vector's embedder, and what points at it."""

        def load() -> dict[str, Any]:
            with store.connect() as conn:
                return describe_entry(conn, entry_id)

        try:
            found = await asyncio.to_thread(load)
        except errors.CatalogError as exc:
            raise catalog_errors(exc) from exc
        if repo is not None and found.get("repo") != repo:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"entry {entry_id!r} is not in repository {repo!r}"
            )
        return found

    app.include_router(router, dependencies=list(dependencies))
    return True
