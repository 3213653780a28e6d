"""The last run of each node's hub-generated test, as its markdown shows it.

Rows of ``hub_test_runs`` are written by ``kgents_assets.hub.test_creation``; this module
only reads the latest run that ran something (passed, failed or timed out), so every
renderer of a node's markdown (the ``node_markdown`` asset, the test run itself, the
gateway) shows the same section from the same row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict

RAN = ("passed", "failed", "timeout")


class GeneratedTest(BaseModel):
    model_config = ConfigDict(frozen=True)

    pytest_id: str
    outcome: str
    exit_code: int | None
    duration_s: float | None
    at: datetime


def last_generated_tests(
    conn: psycopg.Connection[Any], node_ids: Iterable[str]
) -> dict[str, GeneratedTest]:
    """node id -> its generated test's latest run, for the nodes that have one."""
    ids = list(node_ids)
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT DISTINCT ON (node_id) node_id, pytest_id, outcome, exit_code, duration_s, at "
        "FROM hub_test_runs WHERE node_id = ANY(%s) AND outcome = ANY(%s) "
        "AND pytest_id IS NOT NULL ORDER BY node_id, id DESC",
        (ids, list(RAN)),
    ).fetchall()
    return {
        r[0]: GeneratedTest(pytest_id=r[1], outcome=r[2], exit_code=r[3], duration_s=r[4], at=r[5])
        for r in rows
    }
