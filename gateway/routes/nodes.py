"""Node state and its markdown, both from the store: the markdown is rendered from the
state with the renderer the ``node_markdown`` asset uses, so the bytes are the file's and
no gateway pod needs the disk a run Job wrote it to."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import PlainTextResponse

from gateway.routes import deps
from kgents_assets.hub.generated_tests import GeneratedTest, last_generated_tests
from kgents_assets.hub.markdown import render_markdown
from kgents_assets.hub.models import NodeState, trusted_node_state
from kgents_assets.hub.state_store import load_repo_states, load_state_json
from kgents_assets.store import Store

router = APIRouter(prefix="/api/nodes", tags=["nodes"])

RepoFilter = Annotated[
    str | None, Query(description="only this repository (node ids are `{repo}:{hash}`)")
]


Loaded = tuple[dict[str, Any], GeneratedTest | None]  # the state, its generated test's run


def _load(store: Store, node_id: str) -> Loaded | None:
    with store.connect() as conn:
        state = load_state_json(conn, node_id)
        if state is None:
            return None
        return state, last_generated_tests(conn, [node_id]).get(node_id)


def _markdown(loaded: Loaded) -> tuple[str | None, str | None]:
    """(markdown, why there is none). Read the way the asset reads it (``trusted``: no
    re-validation), so the bytes match its file; a malformed state renders nothing."""
    try:
        return render_markdown(trusted_node_state(loaded[0]), loaded[1]), None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return None, f"the stored state cannot be rendered: {type(exc).__name__}: {exc}"


def _in_repo(node_id: str, repo: str | None) -> bool:
    return repo is None or node_id.startswith(f"{repo}:")


async def _state_or_404(store: Store, node_id: str, repo: str | None) -> Loaded:
    loaded = await asyncio.to_thread(_load, store, node_id) if _in_repo(node_id, repo) else None
    if loaded is None:
        where = f" in repository {repo!r}" if repo else ""
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no state for node {node_id!r}{where}")
    return loaded


@router.get("")
async def nodes(
    store: Annotated[Store, Depends(deps.store)],
    repo: Annotated[str, Query(description="the repository whose nodes to list")],
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """One repository's nodes (id, kind, name, file, lines), by file then line."""

    def load() -> dict[str, NodeState]:
        with store.connect() as conn:
            return load_repo_states(conn, repo)

    states = sorted(
        (s for s in (await asyncio.to_thread(load)).values() if kind is None or s.kind == kind),
        key=lambda s: (s.file_path, s.start_line, s.node_id),
    )
    page = states[offset : offset + limit]
    return {
        "repo": repo,
        "total": len(states),
        "nodes": [
            {
                "node_id": s.node_id, "kind": s.kind, "qualname": s.qualname,
                "file_path": s.file_path, "start_line": s.start_line, "end_line": s.end_line,
            }
            for s in page
        ],
    }  # fmt: skip


@router.get("/{node_id}")
async def node(
    node_id: str, store: Annotated[Store, Depends(deps.store)], repo: RepoFilter = None
) -> dict[str, Any]:
    """The node's state and its markdown rendered from it; 404 when the node has no state
    (``markdown`` is null, with ``markdown_error``, when the state does not validate)."""
    loaded = await _state_or_404(store, node_id, repo)
    state = loaded[0]
    markdown, error = _markdown(loaded)
    return {
        "node_id": node_id,
        "state": state,
        "markdown_path": state.get("markdown_path"),
        "markdown": markdown,
        "markdown_error": error,
    }


@router.get("/{node_id}/markdown", response_class=PlainTextResponse)
async def node_markdown(
    node_id: str, store: Annotated[Store, Depends(deps.store)], repo: RepoFilter = None
) -> PlainTextResponse:
    """The node's markdown alone (``text/markdown``), byte for byte what the asset writes."""
    markdown, error = _markdown(await _state_or_404(store, node_id, repo))
    if markdown is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, error)
    return PlainTextResponse(markdown, media_type="text/markdown; charset=utf-8")
