"""Decision traces (table ``hub_traces``, its only owner): for every node a run decided
about, the signals seen and each candidate update's fate, with the repository it is in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from kgents_assets.hub.node_ids import repo_of_node_id

#: (repo, run_id, node_id, backend, signals JSON, decisions JSON)
TraceRow = tuple[str, str, str, str, str, str]


def write_traces(conn: psycopg.Connection[Any], rows: Iterable[TraceRow]) -> None:
    with conn.cursor().copy(
        "COPY hub_traces (repo, run_id, node_id, backend, signals, decisions) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def write_trace_of_every_node(
    conn: psycopg.Connection[Any],
    repo: str,
    run_id: str,
    backend: str,
    signals_json: str,
    decisions_json: str,
) -> None:
    """One trace per node of ``repo``, all alike (a first build under the rules backend:
    every node new, one decision for all): the rows ``write_traces`` gives for the nodes
    in id order (``sorted``'s order, ``COLLATE "C"``), ids taken in that order. Made in
    the server from ``hub_nodes``: the two documents are parsed once, not once per node
    (44k times, 31 MB of text, on Django), and no row crosses the wire."""
    conn.execute(
        "INSERT INTO hub_traces (repo, run_id, node_id, backend, signals, decisions) "
        "SELECT repo, %s, node_id, %s, %s::jsonb, %s::jsonb FROM hub_nodes WHERE repo = %s "
        'ORDER BY node_id COLLATE "C"',
        (run_id, backend, signals_json, decisions_json, repo),
    )


def write_trace(
    conn: psycopg.Connection[Any],
    *,
    run_id: str,
    node_id: str,
    backend: str,
    signals: Sequence[str],
    decisions: Sequence[dict[str, Any]],
) -> None:
    conn.execute(
        "INSERT INTO hub_traces (repo, run_id, node_id, backend, signals, decisions) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (
            repo_of_node_id(node_id),
            run_id,
            node_id,
            backend,
            json.dumps(list(signals)),
            json.dumps(list(decisions)),
        ),
    )


def traces_for_node(conn: psycopg.Connection[Any], node_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT run_id, at, backend, signals, decisions FROM hub_traces "
        "WHERE node_id = %s ORDER BY id",
        (node_id,),
    ).fetchall()
    return [
        {"run_id": r[0], "at": r[1], "backend": r[2], "signals": r[3], "decisions": r[4]}
        for r in rows
    ]


def nodes_of_run(
    conn: psycopg.Connection[Any], run_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The nodes a run decided about, by full name, with the signals seen (oldest first):
    what the gateway's hub stream tells node by node."""
    rows = conn.execute(
        "SELECT t.node_id, n.full_name, n.file_path, t.signals FROM hub_traces t "
        "LEFT JOIN hub_nodes n ON n.node_id = t.node_id WHERE t.run_id = %s ORDER BY t.id LIMIT %s",
        (run_id, limit),
    ).fetchall()
    return [
        {"node_id": r[0], "qualname": r[1] or r[0], "file_path": r[2], "signals": r[3]}
        for r in rows
    ]
