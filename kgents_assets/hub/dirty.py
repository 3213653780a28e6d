"""Work marks handed from one stage to the next (table ``hub_dirty``, its only owner).

A stage reads its marks and deletes them in the same transaction as its writes, so a run
killed midway leaves them in place and the next run finishes the job. Marks carry their
repository; a stage only ever sees its own repository's marks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import psycopg

from kgents_assets.repos.registry import find_repository, repository_lock_key

STATE = "state"
MARKDOWN = "markdown"
CATALOG = "catalog"
REMOVED_PREFIX = "removed:"


class RepositoryGone(RuntimeError):
    """The repository was removed while a run of it was under way."""


def mark_dirty(
    conn: psycopg.Connection[Any],
    repo: str,
    stage: str,
    node_ids: Iterable[str],
    reason: str = "",
) -> None:
    ids = list(dict.fromkeys(node_ids))
    if ids:
        mark_dirty_with_reasons(conn, repo, stage, dict.fromkeys(ids, reason))


def mark_dirty_with_reasons(
    conn: psycopg.Connection[Any], repo: str, stage: str, reasons: Mapping[str, str]
) -> None:
    if reasons:
        conn.execute(
            "INSERT INTO hub_dirty (repo, node_id, stage, reason) "
            "SELECT %s, unnest(%s::text[]), %s, unnest(%s::text[]) "
            "ON CONFLICT (node_id, stage) DO UPDATE SET reason = EXCLUDED.reason, "
            "marked_at = now()",
            (repo, list(reasons), stage, list(reasons.values())),
        )


def mark_every_node(
    conn: psycopg.Connection[Any], repo: str, stage: str, reason: str, *, renew: bool = False
) -> None:
    """Mark every node of ``repo`` for ``stage``; a mark already there keeps its reason,
    or with ``renew`` gets this one (what mark_dirty does, without shipping the ids).

    Renewing is an update of the marks there, then an insert of the others: what one
    ``INSERT ... ON CONFLICT DO UPDATE`` gives without its speculative insertion per row
    (a cold build marks every node for two stages: 44k rows each on Django, ~0.8 -> ~0.6 s
    of server time). The caller holds the repository's stage lock, which every writer of
    marks takes, so none appears between the two; a consumer deleting a mark meanwhile
    (a catalog sync of every repository) waits on the row the update locked, and then
    finds it renewed, as it would after the upsert."""
    if not renew:
        conn.execute(
            "INSERT INTO hub_dirty (repo, node_id, stage, reason) "
            "SELECT repo, node_id, %s, %s FROM hub_nodes WHERE repo = %s "
            "ON CONFLICT (node_id, stage) DO NOTHING",
            (stage, reason, repo),
        )
        return
    conn.execute(
        "UPDATE hub_dirty d SET reason = %s, marked_at = now() "
        "WHERE d.repo = %s AND d.stage = %s "
        "AND EXISTS (SELECT 1 FROM hub_nodes n WHERE n.node_id = d.node_id)",
        (reason, repo, stage),
    )
    conn.execute(
        "INSERT INTO hub_dirty (repo, node_id, stage, reason) "
        "SELECT n.repo, n.node_id, %s, %s FROM hub_nodes n WHERE n.repo = %s "
        "AND NOT EXISTS (SELECT 1 FROM hub_dirty d WHERE d.node_id = n.node_id AND d.stage = %s)",
        (stage, reason, repo, stage),
    )


def dirty_marks(conn: psycopg.Connection[Any], repo: str, stage: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT node_id, reason FROM hub_dirty WHERE repo = %s AND stage = %s", (repo, stage)
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def dirty_marks_with_times(
    conn: psycopg.Connection[Any], repo: str | None, stage: str
) -> list[tuple[str, datetime]]:
    """(node id, marked at) of ``repo`` (every repository's when None): a consumer clears
    only marks that were not renewed meanwhile (see clear_marks_at)."""
    rows = conn.execute(
        "SELECT node_id, marked_at FROM hub_dirty "
        "WHERE (%s::text IS NULL OR repo = %s) AND stage = %s",
        (repo, repo, stage),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def pending_count(conn: psycopg.Connection[Any], repo: str, stage: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM hub_dirty WHERE repo = %s AND stage = %s", (repo, stage)
    ).fetchone()
    return int(row[0]) if row else 0


def clear_marks(
    conn: psycopg.Connection[Any], repo: str, stage: str, node_ids: Iterable[str]
) -> None:
    conn.execute(
        "DELETE FROM hub_dirty WHERE repo = %s AND stage = %s AND node_id = ANY(%s)",
        (repo, stage, list(node_ids)),
    )


def clear_every_mark(conn: psycopg.Connection[Any], repo: str, stage: str) -> None:
    """``clear_marks`` of every mark of ``repo`` for ``stage``, for a caller that read
    them all under the repository's stage lock (no mark can have come since): without
    shipping the ids (44k on a cold build of Django) and matching each against them."""
    conn.execute("DELETE FROM hub_dirty WHERE repo = %s AND stage = %s", (repo, stage))


def clear_marks_at(
    conn: psycopg.Connection[Any], repo: str, stage: str, marks: Iterable[tuple[str, datetime]]
) -> int:
    consumed = list(marks)
    if consumed:
        conn.execute(
            "DELETE FROM hub_dirty d USING unnest(%s::text[], %s::timestamptz[]) AS c(id, at) "
            "WHERE d.repo = %s AND d.stage = %s AND d.node_id = c.id AND d.marked_at = c.at",
            ([c[0] for c in consumed], [c[1] for c in consumed], repo, stage),
        )
    return len(consumed)


def stage_lock(conn: psycopg.Connection[Any], repo: str) -> None:
    """Serialise writers of one repository (a sensor run and ``kg hub`` at once; a
    ``kg repo remove``) for the current transaction, and refuse to write for a repository
    that was removed meanwhile: its rows must not come back.

    Runs of different repositories never wait on each other here; two runs of one
    repository are also kept apart by the run queue (one run per partition).
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (repository_lock_key(repo),))
    if find_repository(conn, repo) is None:
        raise RepositoryGone(f"repository {repo!r} is not registered (removed during the run?)")
