"""What the code assets' checks verify, as queries over one repository's hub tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from kgents_assets.hub import dirty
from kgents_assets.hub.state_store import markdown_paths, state_gaps


def files_with_problems(conn: psycopg.Connection[Any], repo: str) -> dict[str, str]:
    """Files indexed with a problem (binary, invalid UTF-8, too large, syntax error...)."""
    rows = conn.execute(
        "SELECT path, status, coalesce(error, '') FROM hub_files "
        "WHERE repo = %s AND status NOT IN ('ok', 'empty') ORDER BY path",
        (repo,),
    ).fetchall()
    return {path: f"{status}: {error}" for path, status, error in rows}


@dataclass(frozen=True)
class StateConsistency:
    nodes_without_state: int
    orphaned_states: int
    pending: int

    @property
    def ok(self) -> bool:
        return self.nodes_without_state == 0 and self.orphaned_states == 0 and self.pending == 0


def state_consistency(conn: psycopg.Connection[Any], repo: str) -> StateConsistency:
    without_state, orphaned = state_gaps(conn, repo)
    return StateConsistency(without_state, orphaned, dirty.pending_count(conn, repo, dirty.STATE))


def expected_markdown(conn: psycopg.Connection[Any], repo: str) -> set[str]:
    """The markdown paths (relative to the repository root) the states name."""
    return markdown_paths(conn, repo)


def repository_counts(conn: psycopg.Connection[Any], repo: str) -> dict[str, int]:
    """Files and nodes of a repository (for listings)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM hub_files WHERE repo = %(r)s), "
        "(SELECT count(*) FROM hub_nodes WHERE repo = %(r)s)",
        {"r": repo},
    ).fetchone() or (0, 0)
    return {"files": int(row[0]), "nodes": int(row[1])}
