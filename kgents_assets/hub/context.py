"""The hub context provider: what a coding agent should know about one node, and whether
it can trust it.

``node_context(store, target, repo=...)`` returns a ``HubContextBlob`` for a node given by
id, name or ``path:line`` (see ``node_lookup``): signature, docstring summary, the top
callers and callees by confidence (with where they are), related tests (with their pytest
ids), complexity, the state's key, when it was last updated, the source version it was
derived from, and ``freshness_status`` fresh|stale|missing (see ``freshness``). Stale and
missing blobs carry a plain ``warning`` saying what to use instead. It never raises: a
store that is down, an unknown repository or a typo all come back as ``missing`` with the
reason. Every call is traced in ``hub_context_traces`` (when the store is up).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from kgents_assets.home import workspace_dir
from kgents_assets.hub.freshness import (
    DEFAULT_MAX_AGE_S,
    Freshness,
    FreshnessVerdict,
    check_freshness,
    last_updated,
)
from kgents_assets.hub.models import Edge, NodeState
from kgents_assets.hub.node_lookup import Found, find_node
from kgents_assets.hub.state_store import load_state, state_key
from kgents_assets.repos.registry import find_repository
from kgents_assets.repos.sources import tree_root
from kgents_assets.store import DatabaseUnavailable, Store

log = logging.getLogger(__name__)
DEFAULT_TOP_N = 10


class NodeRef(BaseModel):
    """Another node, as a pointer an agent can follow."""

    node_id: str
    full_name: str
    confidence: float | None = None
    file_path: str | None = None
    line: int | None = None


class TestRef(BaseModel):
    __test__ = False  # not a pytest class

    full_name: str
    file_path: str | None = None
    pytest_id: str | None = None  # what `pytest` takes to run exactly this test


class HubContextBlob(BaseModel):
    target: str
    repo: str | None = None
    node_id: str | None = None
    kind: str | None = None
    full_name: str | None = None
    file_path: str | None = None
    start_line: int | None = None
    end_line: int | None = None
    signature: str | None = None
    docstring_summary: str | None = None
    summary: str | None = None
    complexity: int | None = None
    callers: list[NodeRef] = Field(default_factory=list)
    callees: list[NodeRef] = Field(default_factory=list)
    callers_total: int = 0
    callees_total: int = 0
    related_tests: list[TestRef] = Field(default_factory=list)
    hub_state_key: str | None = None
    last_updated: datetime | None = None
    confirmed_at: datetime | None = None
    source_version: str | None = None  # the source hash the state was derived from
    repo_commit: str | None = None  # the commit the repository's last refresh read
    markdown_path: str | None = None
    freshness_status: Freshness = "missing"
    freshness_reason: str = ""
    warning: str | None = None


def _warning(blob: HubContextBlob) -> str | None:
    if blob.freshness_status == "fresh":
        return None
    if blob.freshness_status == "missing":
        return (
            f"No hub context for {blob.target!r}: {blob.freshness_reason}. Read the source "
            "directly (or search with `kg library discover`); the hub cannot vouch for it."
        )
    where = blob.file_path or "its file"
    if blob.start_line is not None:
        where += f":{blob.start_line}-{blob.end_line}"
    return (
        f"Stale hub context for {blob.full_name}: {blob.freshness_reason}. Read {where} "
        "for the current code and treat the callers, callees and tests below as possibly "
        "outdated; `kg hub --once <repository>` refreshes the hub."
    )


def node_refs(
    conn: psycopg.Connection[Any], repo: str, edges: list[Edge], top_n: int
) -> list[NodeRef]:
    top = sorted(edges, key=lambda e: (-e.confidence, e.full_name))[:top_n]
    where = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            "SELECT node_id, file_path, (extract->>'start_line')::int FROM hub_nodes "
            "WHERE repo = %s AND node_id = ANY(%s)",
            (repo, [e.node_id for e in top]),
        ).fetchall()
    }
    return [
        NodeRef(
            node_id=e.node_id, full_name=e.full_name, confidence=round(e.confidence, 3),
            file_path=where.get(e.node_id, (None, None))[0],
            line=where.get(e.node_id, (None, None))[1],
        )
        for e in top
    ]  # fmt: skip


def repository_root(conn: psycopg.Connection[Any], repo: str) -> Path | None:
    """Where the repository's files are on this machine (None: not registered)."""
    repository = find_repository(conn, repo)
    return tree_root(repository, workspace_dir()) if repository else None


def pytest_id(file_path: str, qualname: str) -> str:
    return "::".join([file_path, *qualname.split(".")])


def _tests(conn: psycopg.Connection[Any], repo: str, full_names: list[str]) -> list[TestRef]:
    rows = conn.execute(
        "SELECT full_name, file_path, qualname FROM hub_nodes "
        "WHERE repo = %s AND is_test AND full_name = ANY(%s)",
        (repo, full_names),
    ).fetchall()
    found = {r[0]: (r[1], r[2]) for r in rows}
    return [
        TestRef(full_name=n, file_path=found[n][0], pytest_id=pytest_id(*found[n]))
        if n in found
        else TestRef(full_name=n)
        for n in full_names
    ]


def _pending(conn: psycopg.Connection[Any], repo: str, node_id: str) -> str | None:
    row = conn.execute(
        "SELECT reason FROM hub_dirty WHERE repo = %s AND node_id = %s AND stage = 'state'",
        (repo, node_id),
    ).fetchone()
    return None if row is None else str(row[0])


def _fill(
    conn: psycopg.Connection[Any],
    blob: HubContextBlob,
    found: Found,
    top_n: int,
    max_age_s: float,
    now: datetime,
) -> None:
    blob.repo, blob.node_id = found.repo, found.node_id
    blob.hub_state_key = state_key(found.node_id)
    repository = find_repository(conn, found.repo)
    blob.repo_commit = repository.last_sha if repository else None
    state: NodeState | None = load_state(conn, found.node_id)
    if state is None:
        row = conn.execute(
            "SELECT full_name, file_path, (extract->>'start_line')::int, "
            "(extract->>'end_line')::int FROM hub_nodes WHERE repo = %s AND node_id = %s",
            (found.repo, found.node_id),
        ).fetchone()
        if row:
            blob.full_name, blob.file_path, blob.start_line, blob.end_line = row
        blob.freshness_status = "missing"
        blob.freshness_reason = "the node was discovered but no state was derived for it yet"
        return
    blob.kind, blob.full_name, blob.file_path = state.kind, state.full_name, state.file_path
    blob.start_line, blob.end_line = state.start_line, state.end_line
    blob.signature, blob.docstring_summary = state.signature, state.docstring_summary
    blob.summary, blob.complexity = state.summary, state.complexity
    blob.callers = node_refs(conn, found.repo, state.callers, top_n)
    blob.callees = node_refs(conn, found.repo, state.callees, top_n)
    blob.callers_total, blob.callees_total = state.caller_count, len(state.callees)
    blob.related_tests = _tests(conn, found.repo, state.related_tests)
    blob.last_updated = last_updated(state)
    blob.source_version = state.source_hash
    blob.markdown_path = state.markdown_path or None
    root: Path | None = tree_root(repository, workspace_dir()) if repository else None
    verdict: FreshnessVerdict = check_freshness(
        state, found.repo, root, now=now,
        last_refresh_at=repository.last_refresh_at if repository else None,
        pending_reason=_pending(conn, found.repo, found.node_id), max_age_s=max_age_s,
    )  # fmt: skip
    blob.freshness_status, blob.freshness_reason = verdict.status, verdict.reason
    blob.confirmed_at = verdict.confirmed_at
    if verdict.current_lines is not None and verdict.status == "stale":
        blob.start_line, blob.end_line = verdict.current_lines  # where to read now


def trace_context(conn: psycopg.Connection[Any], blob: HubContextBlob, surface: str) -> None:
    conn.execute(
        "INSERT INTO hub_context_traces (repo, target, node_id, hub_state_key, last_updated, "
        "freshness, reason, surface) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            blob.repo, blob.target, blob.node_id, blob.hub_state_key, blob.last_updated,
            blob.freshness_status, blob.freshness_reason, surface,
        ),
    )  # fmt: skip


def node_context(
    store: Store | None,
    target: str,
    *,
    repo: str | None = None,
    top_n: int = DEFAULT_TOP_N,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    surface: str = "python",
    now: datetime | None = None,
) -> HubContextBlob:
    """The context of the node ``target`` names (never raises; see the module docstring)."""
    blob = HubContextBlob(target=target, repo=repo)
    if store is None:
        return missing_context(target, repo, "the hub's store is not configured")
    moment = now or datetime.now(UTC)
    try:
        with store.connect() as conn:
            found = find_node(conn, target, repo)
            if isinstance(found, Found):
                _fill(conn, blob, found, top_n, max_age_s, moment)
            else:
                blob.repo = found.repo
                blob.freshness_reason = found.reason
            blob.warning = _warning(blob)
            trace_context(conn, blob, surface)
    except (DatabaseUnavailable, psycopg.Error) as exc:
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        blob = missing_context(target, repo, f"the hub is down: {reason}")
    except Exception as exc:  # an agent's editor must keep working: say what broke
        log.exception("hub context for %r failed", target)
        blob = missing_context(target, repo, f"the hub failed: {type(exc).__name__}: {exc}")
    return blob


def missing_context(target: str, repo: str | None, reason: str) -> HubContextBlob:
    """A ``missing`` blob with its warning, for callers that cannot even reach the hub."""
    blob = HubContextBlob(target=target, repo=repo, freshness_reason=reason)
    blob.warning = _warning(blob)
    return blob
