"""Stage 2 on a repository's first build: every node is new, nothing was derived before.

The general path (``refresh_states``) loads each marked node whole (source, ``before``
source, every call), diffs old edges against new ones and re-reads the edges it just
wrote to find callers. With no state, no edge and every node marked, all of that is known
to be empty or all-inclusive, so this path streams instead: the symbol table once, the
calls in batches (edges resolved and held as small tuples, copied out once), then the
facts in batches, each batch derived and copied into the store before the next is read:
under the rules backend as plain JSON (hub/new_states.py: what the per-node models reduce
to for a node with no state), under any other backend by the general per-node code. The
result is the general path's, row for row (tests/hub/test_first_build.py holds the store
and the markdown to it, tests/hub/test_new_states.py each state's JSON text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg.types.json import set_json_loads
from pydantic_core import from_json

from kgents_assets.hub.new_states import EdgeEnd
from kgents_assets.hub.resolution import (
    Call,
    CallerContext,
    Symbol,
    SymbolTable,
    resolve_node_calls,
)
from kgents_assets.hub.state_store import KEY_PREFIX, KEY_SUFFIX

#: nodes read, derived and written per round trip
BATCH = 2000


def is_first_build(conn: psycopg.Connection[Any], repo: str) -> bool:
    """No state and no edge of ``repo`` exists, and every node of it is marked for stage 2:
    the general path would treat every node as new and find no old edge or state."""
    row = conn.execute(
        "SELECT NOT EXISTS (SELECT 1 FROM hub_edges WHERE repo = %(r)s)"
        " AND NOT EXISTS (SELECT 1 FROM kv WHERE repo = %(r)s AND key LIKE %(like)s)"
        " AND NOT EXISTS (SELECT 1 FROM hub_nodes n WHERE n.repo = %(r)s AND NOT EXISTS"
        "   (SELECT 1 FROM hub_dirty d WHERE d.node_id = n.node_id AND d.stage = 'state'))",
        {"r": repo, "like": f"{KEY_PREFIX}%{KEY_SUFFIX}"},
    ).fetchone()
    return bool(row and row[0])


def load_symbols(
    conn: psycopg.Connection[Any], repo: str
) -> tuple[SymbolTable, dict[str, tuple[str, bool]]]:
    """Every definition of ``repo``, and each node's (full name, is a test)."""
    rows = conn.execute(
        "SELECT n.node_id, n.name, n.full_name, n.kind, f.module, n.is_test, "
        "coalesce((n.extract->>'ordinal')::int, 0) FROM hub_nodes n "
        "JOIN hub_files f ON f.repo = n.repo AND f.path = n.file_path WHERE n.repo = %s",
        (repo,),
    ).fetchall()
    table = SymbolTable(Symbol(r[0], r[1], r[2], r[3], r[4], r[6]) for r in rows)
    return table, {r[0]: (r[2], r[5]) for r in rows}


def _streamed(
    conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...], name: str
) -> Iterator[list[tuple[Any, ...]]]:
    """``query``'s rows in batches from a server-side cursor of the caller's transaction:
    no 2000-id array shipped (and adapted) per batch, and the caller may COPY on the same
    connection between batches. JSON columns are decoded by pydantic-core, not the json
    module (same values, a third of the time for these documents)."""
    with conn.cursor(name=name) as cur:
        set_json_loads(from_json, cur)
        cur.execute(query, params)
        while rows := cur.fetchmany(BATCH):
            yield rows


EdgeRow = tuple[str, str, str, float]


def resolve_all(
    conn: psycopg.Connection[Any],
    repo: str,
    table: SymbolTable,
    ends: dict[str, tuple[str, bool]],
    edges_out: Callable[[list[EdgeRow]], object],
) -> tuple[int, dict[str, list[EdgeEnd]], dict[str, list[EdgeEnd]]]:
    """Every node's calls resolved: the edge rows, handed to ``edges_out`` batch by batch
    as they are found (so they are stored while the rest resolves), their count, and each
    node's callers and callees as the general path reads them back (confidence rounded as
    a ``real`` round-trips). Nodes come in storage order: every list built here is sorted
    by whoever reads it."""
    written = 0
    callers: dict[str, list[EdgeEnd]] = {}
    callees: dict[str, list[EdgeEnd]] = {}
    # a file's imports once per file, not once per node of it
    imports_of: dict[str, dict[str, str]] = dict(
        conn.execute("SELECT path, imports FROM hub_files WHERE repo = %s", (repo,)).fetchall()
    )
    query = (
        "SELECT node_id, extract->'calls', extract->>'module', extract->>'class_name', "
        "file_path FROM hub_nodes WHERE repo = %s"
    )
    for batch in _streamed(conn, query, (repo,), "first_build_calls"):
        rows: list[EdgeRow] = []
        for node_id, calls, module, class_name, file_path in batch:
            refs = [Call(c["name"], c.get("qualifier")) for c in calls or ()]
            ctx = CallerContext(node_id, module, class_name, imports_of.get(file_path, {}))
            src_name, src_test = ends[node_id]
            for dst, conf in resolve_node_calls(refs, ctx, table).items():
                rows.append((repo, node_id, dst, conf))
                c = round(float(conf), 3)
                dst_name, dst_test = ends[dst]
                callees.setdefault(node_id, []).append((dst, dst_name, c, dst_test))
                callers.setdefault(dst, []).append((node_id, src_name, c, src_test))
        if rows:
            edges_out(rows)
            written += len(rows)
    return written, callers, callees


#: (node's ``extract`` without its calls, source, the source its state was derived from)
Facts = tuple[dict[str, Any], str, str | None]

_FACTS = (
    "SELECT n.extract - 'calls', "
    "CASE WHEN n.state_source <> n.source THEN n.source ELSE '' END, "
    "CASE WHEN n.state_source <> n.source THEN n.state_source ELSE '' END "
    "FROM hub_nodes n WHERE n.repo = %s"
)


def stream_facts(conn: psycopg.Connection[Any], repo: str) -> Iterator[list[Facts]]:
    """(node's ``extract`` without its calls, source, the source its state was derived
    from) of every node of ``repo``, batch by batch in node id order (the order
    ``sorted`` gives: ids compared byte by byte, ``COLLATE "C"``); both sources empty
    when they are equal (the diff bundle then has no text diff, as with equal ones)."""
    yield from _streamed(
        conn, _FACTS + ' ORDER BY n.node_id COLLATE "C"', (repo,), "first_build_facts"
    )
