"""Failure context: for a failing test, its node and the nodes it exercises.

Written by the test-failure sensor's run into ``sensor_failure_contexts`` so whoever picks
the failure up (an agent, a person, the gateway) starts from the right code; the same run
writes the full failure context bundle (kgents_assets/hub/failure_bundle.py) under the
repository's ``.agentfs/failures/`` and records its path in ``bundle``. The test is
found in ``hub_nodes`` by file and qualified name (``tests/t.py::TestA::test_b[x]`` ->
``tests/t.py``, ``TestA.test_b``), falling back to its name among test nodes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from kgents_assets.store import Store
from sensors.events import TestFailed
from sensors.journal import EventJournal, JournalEntry

_PARAMS = re.compile(r"\[.*\]$")


class NodeRef(BaseModel):
    node_id: str
    full_name: str
    file_path: str
    kind: str
    confidence: float = 1.0


class FailureContext(BaseModel):
    event_seq: int
    test_nodeid: str
    test_node_id: str | None
    file_path: str
    message: str
    nodes: list[NodeRef]
    bundle: str | None = None  # the bundle's JSON, relative to the repository root


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """``tests/t.py::TestA::test_b[x]`` -> (``tests/t.py``, ``TestA.test_b``)."""
    file_path, _, rest = nodeid.partition("::")
    parts = [_PARAMS.sub("", p) for p in rest.split("::") if p]
    return file_path, ".".join(parts)


def _find_test_node(
    conn: psycopg.Connection[Any], file_path: str, qualname: str, repo: str | None
) -> NodeRef | None:
    """The test's node, in ``repo`` when the event says which repository ran it."""
    cols = "node_id, full_name, file_path, kind"
    scope = "(%s::text IS NULL OR repo = %s)"
    row = conn.execute(
        f"SELECT {cols} FROM hub_nodes WHERE {scope} AND is_test AND file_path = %s "
        "AND qualname = %s ORDER BY node_id LIMIT 1",
        (repo, repo, file_path, qualname),
    ).fetchone()
    if row is None and qualname:
        name = qualname.rsplit(".", 1)[-1]
        # pytest's rootdir may not be the repository root: match the path's tail instead.
        row = conn.execute(
            f"SELECT {cols} FROM hub_nodes WHERE {scope} AND is_test AND name = %s "
            "AND (full_name LIKE %s OR %s LIKE '%%' || file_path) ORDER BY length(file_path) "
            "LIMIT 1",
            (repo, repo, name, f"%.{qualname}", file_path),
        ).fetchone()
    return NodeRef(node_id=row[0], full_name=row[1], file_path=row[2], kind=row[3]) if row else None


def _nodes_under_test(conn: psycopg.Connection[Any], test_node_id: str) -> list[NodeRef]:
    rows = conn.execute(
        "SELECT n.node_id, n.full_name, n.file_path, n.kind, e.confidence FROM hub_edges e "
        "JOIN hub_nodes n ON n.node_id = e.dst_id WHERE e.src_id = %s AND NOT n.is_test "
        "ORDER BY e.confidence DESC, n.full_name",
        (test_node_id,),
    ).fetchall()
    return [
        NodeRef(node_id=r[0], full_name=r[1], file_path=r[2], kind=r[3], confidence=r[4])
        for r in rows
    ]


def build_failure_context(
    conn: psycopg.Connection[Any], seq: int, event: TestFailed, repo: str | None = None
) -> FailureContext:
    file_path, qualname = split_nodeid(event.nodeid)
    test_node = _find_test_node(conn, file_path, qualname, repo)
    return FailureContext(
        event_seq=seq,
        test_nodeid=event.nodeid,
        test_node_id=test_node.node_id if test_node else None,
        file_path=test_node.file_path if test_node else file_path,
        message=event.message,
        nodes=_nodes_under_test(conn, test_node.node_id) if test_node else [],
    )


def record_failure_contexts(store: Store, seqs: Sequence[int]) -> list[FailureContext]:
    """Build and store the context of each ``test_failed`` journal entry (idempotent)."""
    if not seqs:
        return []
    entries = {
        e.seq: e
        for e in EventJournal(store).read_after(
            min(seqs) - 1, kinds=["test_failed"], limit=max(seqs) - min(seqs) + 1
        )
    }
    out: list[FailureContext] = []
    with store.transaction() as conn:
        for seq in seqs:
            entry = entries.get(seq)
            if entry is None or not isinstance(entry.event, TestFailed):
                continue
            ctx = build_failure_context(conn, seq, entry.event, entry.repo)
            conn.execute(
                "INSERT INTO sensor_failure_contexts (repo, event_seq, test_nodeid, "
                "test_node_id, file_path, message, nodes) VALUES (%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (event_seq) DO UPDATE SET test_node_id = EXCLUDED.test_node_id, "
                "nodes = EXCLUDED.nodes, created_at = now()",
                (
                    entry.repo,
                    seq,
                    ctx.test_nodeid,
                    ctx.test_node_id,
                    ctx.file_path,
                    ctx.message,
                    Jsonb([n.model_dump() for n in ctx.nodes]),
                ),
            )
            out.append(ctx)
        for ctx in out:
            ctx.bundle = _write_bundle(conn, store, ctx, entries[ctx.event_seq])
    return out


def _write_bundle(
    conn: psycopg.Connection[Any], store: Store, ctx: FailureContext, entry: JournalEntry
) -> str | None:
    """The failure's bundle, written under its repository (the event's, else the test
    node's); None when the repository's files are not on this machine."""
    from kgents_assets.hub.context import repository_root
    from kgents_assets.hub.failure_bundle import build_failure_bundle, write_bundle
    from kgents_assets.hub.node_ids import repo_of_node_id

    event = entry.event
    assert isinstance(event, TestFailed)
    repo = entry.repo or (repo_of_node_id(ctx.test_node_id) if ctx.test_node_id else None)
    root = repository_root(conn, repo) if repo else None
    if repo is None or root is None or not root.is_dir():
        return None
    bundle = build_failure_bundle(
        conn, repo, root, event.nodeid, message=event.message, longrepr=event.longrepr,
        failed_at=event.at, source=f"journal #{ctx.event_seq} ({event.source})", store=store,
    )  # fmt: skip
    write_bundle(root, bundle, conn)
    return bundle.artifact
