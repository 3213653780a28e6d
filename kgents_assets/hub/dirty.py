"""Work marks handed from one stage to the next (table ``hub_dirty``).

A stage reads its marks and deletes them in the same transaction as its writes, so a run
killed midway leaves them in place and the next run finishes the job.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

STATE = "state"
MARKDOWN = "markdown"
CATALOG = "catalog"
REMOVED_PREFIX = "removed:"


def mark_dirty(
    conn: psycopg.Connection[Any], stage: str, node_ids: Iterable[str], reason: str = ""
) -> None:
    ids = list(dict.fromkeys(node_ids))
    if ids:
        conn.execute(
            "INSERT INTO hub_dirty (node_id, stage, reason) "
            "SELECT unnest(%s::text[]), %s, %s "
            "ON CONFLICT (node_id, stage) DO UPDATE SET reason = EXCLUDED.reason, "
            "marked_at = now()",
            (ids, stage, reason),
        )


def mark_dirty_with_reasons(
    conn: psycopg.Connection[Any], stage: str, reasons: dict[str, str]
) -> None:
    if reasons:
        conn.execute(
            "INSERT INTO hub_dirty (node_id, stage, reason) "
            "SELECT unnest(%s::text[]), %s, unnest(%s::text[]) "
            "ON CONFLICT (node_id, stage) DO UPDATE SET reason = EXCLUDED.reason, "
            "marked_at = now()",
            (list(reasons), stage, list(reasons.values())),
        )


def dirty_marks(conn: psycopg.Connection[Any], stage: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT node_id, reason FROM hub_dirty WHERE stage = %s", (stage,)
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def clear_marks(conn: psycopg.Connection[Any], stage: str, node_ids: Iterable[str]) -> None:
    conn.execute(
        "DELETE FROM hub_dirty WHERE stage = %s AND node_id = ANY(%s)", (stage, list(node_ids))
    )


def stage_lock(conn: psycopg.Connection[Any], stage: str) -> None:
    """Serialise two runs of one stage (a sensor run and ``kg hub`` at once)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"hub_dirty:{stage}",))
