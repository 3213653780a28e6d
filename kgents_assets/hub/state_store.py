"""Node state in the store: the only module that knows the ``node:{node_id}:state`` key.

A node id carries its repository (``{repo}:{hash}``), so the key is unique across every
repository of one store; the ``repo`` column of ``kv`` lets a repository's states be
listed or removed without parsing keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from kgents_assets.hub.models import NodeState, trusted_node_state

KEY_PREFIX = "node:"
KEY_SUFFIX = ":state"


def state_key(node_id: str) -> str:
    return f"{KEY_PREFIX}{node_id}{KEY_SUFFIX}"


def node_id_of_key(key: str) -> str:
    return key[len(KEY_PREFIX) : -len(KEY_SUFFIX)]


def load_state_json(conn: psycopg.Connection[Any], node_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM kv WHERE key = %s", (state_key(node_id),)).fetchone()
    return None if row is None else dict(row[0])


def load_state(conn: psycopg.Connection[Any], node_id: str) -> NodeState | None:
    data = load_state_json(conn, node_id)
    return None if data is None else trusted_node_state(data)


def load_states(conn: psycopg.Connection[Any], node_ids: Sequence[str]) -> dict[str, NodeState]:
    rows = conn.execute(
        "SELECT key, value FROM kv WHERE key = ANY(%s)", ([state_key(i) for i in node_ids],)
    ).fetchall()
    return {node_id_of_key(k): trusted_node_state(v) for k, v in rows}


def load_repo_states(conn: psycopg.Connection[Any], repo: str) -> dict[str, NodeState]:
    rows = conn.execute(
        "SELECT key, value FROM kv WHERE repo = %s AND key LIKE 'node:%%:state'", (repo,)
    ).fetchall()
    return {node_id_of_key(k): trusted_node_state(v) for k, v in rows}


def delete_states(conn: psycopg.Connection[Any], node_ids: Iterable[str]) -> None:
    conn.execute("DELETE FROM kv WHERE key = ANY(%s)", ([state_key(i) for i in node_ids],))


def markdown_paths(conn: psycopg.Connection[Any], repo: str) -> set[str]:
    """The markdown files (relative to the repository root) the repository's states name."""
    rows = conn.execute(
        "SELECT value->>'markdown_path' FROM kv WHERE repo = %s AND key LIKE %s",
        (repo, state_key("%")),
    )
    return {r[0] for r in rows}


def state_gaps(conn: psycopg.Connection[Any], repo: str) -> tuple[int, int]:
    """(indexed nodes without a state, states of no indexed node) of one repository."""
    row = conn.execute(
        "SELECT "
        " (SELECT count(*) FROM hub_nodes n WHERE n.repo = %(r)s AND NOT EXISTS "
        "   (SELECT 1 FROM kv WHERE kv.key = %(p)s || n.node_id || %(s)s)),"
        " (SELECT count(*) FROM kv WHERE kv.repo = %(r)s AND kv.key LIKE %(like)s "
        "   AND NOT EXISTS (SELECT 1 FROM hub_nodes n WHERE kv.key = %(p)s || n.node_id || %(s)s))",
        {"r": repo, "p": KEY_PREFIX, "s": KEY_SUFFIX, "like": state_key("%")},
    ).fetchone() or (0, 0)
    return int(row[0]), int(row[1])
