"""The journal of what the hub's demos wrote: failure bundles, impact summaries, tests.

The artifacts are files under a repository's ``.agentfs/``, written by whichever process
ran the demo (a Dagster run worker, a sensor's run, ``kg hub``, the MCP server). The
gateway's ``hub`` stream shows each one; it cannot watch every checkout's disk (a gateway
pod has none of them), so each writer also appends a row here, in order, and the stream
follows the rows by id. This module is the only owner of ``hub_artifacts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

ArtifactKind = Literal["failure_bundle", "impact_summary", "test_created", "test_proposed"]


class Artifact(BaseModel):
    id: int
    repo: str
    kind: ArtifactKind
    subject: str  # the test id, the symbol, the function
    path: str | None  # repository-relative
    summary: str  # one sentence, shown as is
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime


def record_artifact(
    conn: psycopg.Connection[Any],
    repo: str,
    kind: ArtifactKind,
    subject: str,
    path: str | None,
    summary: str,
    data: dict[str, Any] | None = None,
) -> int:
    """Append one artifact (in the caller's transaction: no row for a write that rolled
    back); returns its id."""
    row = conn.execute(
        "INSERT INTO hub_artifacts (repo, kind, subject, path, summary, data) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (repo, kind, subject, path, summary, Jsonb(data or {})),
    ).fetchone()
    assert row is not None
    return int(row[0])


def last_artifact_id(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(max(id), 0) FROM hub_artifacts").fetchone()
    return int(row[0]) if row else 0


def artifacts_after(conn: psycopg.Connection[Any], after: int, limit: int = 100) -> list[Artifact]:
    """Artifacts with an id above ``after``, oldest first.

    Ids come from a sequence, so a transaction that commits late can land below an id
    already read; readers accept that rare miss rather than hold a lock across writers.
    """
    rows = conn.execute(
        "SELECT id, repo, kind, subject, path, summary, data, at FROM hub_artifacts "
        "WHERE id > %s ORDER BY id LIMIT %s",
        (after, limit),
    ).fetchall()
    return [
        Artifact(id=r[0], repo=r[1], kind=r[2], subject=r[3], path=r[4], summary=r[5],
                 data=r[6] or {}, at=r[7])
        for r in rows
    ]  # fmt: skip
