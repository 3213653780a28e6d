"""Versioned, idempotent schema migrations.

Migrations are the ``NNNN_name.sql`` files beside this module, applied in order, each in
its own transaction, and recorded in ``schema_migrations``. An advisory lock serialises
concurrent starters (a Dagster run and the gateway starting together). Number ranges are
owned by domains so parallel work never collides: 0001-0099 hub, 0100-0199 catalog,
0200-0299 events/sensors, 0300-0399 flux/gateway, 0400-0499 hotdata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6B67656E7473  # "kgents": any constant shared by every starter


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file {path.name!r} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


@dataclass(frozen=True)
class LegacyRepository:
    """The repository a database built before repositories existed was built from: its
    rows are assigned to this name when the repository migrations run (else 'default')."""

    name: str
    location: str = ""


def apply_migrations(
    conn: psycopg.Connection[Any],
    directory: Path = MIGRATIONS_DIR,
    *,
    legacy: LegacyRepository | None = None,
) -> list[str]:
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    if legacy is not None:
        # read by the repository migrations (0005, 0101, 0201) through current_setting()
        conn.execute("SELECT set_config('kgents.legacy_repo', %s, false)", (legacy.name,))
        conn.execute("SELECT set_config('kgents.legacy_repo_path', %s, false)", (legacy.location,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        applied: list[str] = []
        for migration in discover_migrations(directory):
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied.append(f"{migration.version:04d}_{migration.name}")
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
