"""What the code assets' checks verify, as queries over one repository's hub tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from kgents_assets.hub import dirty


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
    row = conn.execute(
        "SELECT "
        " (SELECT count(*) FROM hub_nodes n WHERE n.repo = %(r)s AND NOT EXISTS "
        "   (SELECT 1 FROM kv WHERE kv.key = 'node:' || n.node_id || ':state')),"
        " (SELECT count(*) FROM kv WHERE kv.repo = %(r)s AND kv.key LIKE 'node:%%:state' "
        "   AND NOT EXISTS (SELECT 1 FROM hub_nodes n "
        "   WHERE kv.key = 'node:' || n.node_id || ':state'))",
        {"r": repo},
    ).fetchone() or (0, 0)
    return StateConsistency(int(row[0]), int(row[1]), dirty.pending_count(conn, repo, dirty.STATE))


def expected_markdown(conn: psycopg.Connection[Any], repo: str) -> set[str]:
    """The markdown paths (relative to the repository root) the states name."""
    return {
        r[0]
        for r in conn.execute(
            "SELECT value->>'markdown_path' FROM kv WHERE repo = %s AND key LIKE 'node:%%:state'",
            (repo,),
        )
    }


def repository_counts(conn: psycopg.Connection[Any], repo: str) -> dict[str, int]:
    """Files and nodes of a repository (for listings)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM hub_files WHERE repo = %(r)s), "
        "(SELECT count(*) FROM hub_nodes WHERE repo = %(r)s)",
        {"r": repo},
    ).fetchone() or (0, 0)
    return {"files": int(row[0]), "nodes": int(row[1])}
