"""The last run that left a repository with nothing to do, and what it ran under.

``kg hub --once`` may skip a run only when the previous one of the same repository ended
well and nothing it depended on moved since. The record (kv ``hub:clean:{repo}``, with the
repository's ``repo`` column so removing the repository removes it) says which run that
was and under which configuration; it holds only while:

- that run is still the repository's last one (``repositories.last_run_id``: every run
  of its code assets, from ``kg``, a sensor, the watch daemon or the UI, records itself
  there, so any later run, failed or not, voids the record);
- the configuration the run saw is the configuration now (schema migrations applied,
  embedder, kgents version): a change needs the real run.

It is forgotten before a run starts and written again only after a run succeeded, so a
run that fails or dies halfway leaves no record behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

PREFIX = "hub:clean:"


def clean_run_key(repo: str) -> str:
    return f"{PREFIX}{repo}"


@dataclass(frozen=True)
class CleanRun:
    run_id: str
    #: what the run ran under (``configuration`` below); compared as a whole
    configuration: dict[str, Any]


def schema_version(conn: psycopg.Connection[Any]) -> list[int]:
    """The migrations applied to the store, in order (``kgents_assets.store.migrations``)."""
    return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def read_clean_run(conn: psycopg.Connection[Any], repo: str) -> CleanRun | None:
    row = conn.execute("SELECT value FROM kv WHERE key = %s", (clean_run_key(repo),)).fetchone()
    if row is None or not isinstance(row[0], dict):
        return None
    value = row[0]
    run_id, configuration = value.get("run_id"), value.get("configuration")
    if not isinstance(run_id, str) or not isinstance(configuration, dict):
        return None
    return CleanRun(run_id, configuration)


def record_clean_run(
    conn: psycopg.Connection[Any], repo: str, run_id: str, configuration: dict[str, Any]
) -> None:
    conn.execute(
        "INSERT INTO kv (key, value, repo) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value, repo = EXCLUDED.repo, updated_at = now()",
        (clean_run_key(repo), Jsonb({"run_id": run_id, "configuration": configuration}), repo),
    )


def forget_clean_run(conn: psycopg.Connection[Any], repo: str) -> None:
    conn.execute("DELETE FROM kv WHERE key = %s", (clean_run_key(repo),))
