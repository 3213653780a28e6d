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

After an in-process refresh (``kg hub --once`` of a small edit) the record is written by
the detached process that records the refresh's asset events in Dagster
(``kgents_assets.cli.hub_record``), after the command has ended and only once every event
reached the instance. While it works it holds the repository's "record pending" lock
(``hold_pending_record``: a session-level advisory lock on its own connection, so a
recorder that dies releases it); a reader of the record waits for it first
(``wait_for_pending_record``), or it would take a refresh whose record is on its way for
one that failed. A recorder that fails leaves no record and says why in kv
``hub:record_failed:{repo}`` (``record_failure``), which the next command shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

PREFIX = "hub:clean:"
FAILED_PREFIX = "hub:record_failed:"
#: how long a reader waits for a pending record before giving up with a clear message
PENDING_WAIT_S = 60.0


class RecordStillPending(RuntimeError):
    """The Dagster record of the previous refresh did not land within the wait."""


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
    conn.execute("DELETE FROM kv WHERE key = %s", (record_failure_key(repo),))
    conn.execute(
        "INSERT INTO kv (key, value, repo) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value, repo = EXCLUDED.repo, updated_at = now()",
        (clean_run_key(repo), Jsonb({"run_id": run_id, "configuration": configuration}), repo),
    )


def forget_clean_run(conn: psycopg.Connection[Any], repo: str) -> None:
    """Before work starts; a failed record's note goes too (that work is this one's now)."""
    conn.execute(
        "DELETE FROM kv WHERE key IN (%s, %s)", (clean_run_key(repo), record_failure_key(repo))
    )


# --- the record written after the command: pending lock, failure note ----------------


def record_failure_key(repo: str) -> str:
    return f"{FAILED_PREFIX}{repo}"


def pending_lock_key(repo: str) -> str:
    """The advisory-lock key a recorder holds while the record of ``repo`` is pending."""
    return f"kgents:record-pending:{repo}"


def hold_pending_record(conn: psycopg.Connection[Any], repo: str) -> None:
    """Take the "record pending" lock for the session of ``conn`` (an autocommit
    connection the recorder keeps until its record is done): released by
    ``release_pending_record`` or when the connection ends, the process dying included."""
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (pending_lock_key(repo),))


def release_pending_record(conn: psycopg.Connection[Any], repo: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (pending_lock_key(repo),))


def wait_for_pending_record(
    conn: psycopg.Connection[Any], repo: str, timeout_s: float = PENDING_WAIT_S
) -> None:
    """Return once no recorder holds ``repo``'s record pending (at once when none does).

    The shared lock is taken and dropped at once: readers do not block each other, only a
    recorder's exclusive hold blocks them. Raises ``RecordStillPending`` after
    ``timeout_s``."""
    key = pending_lock_key(repo)
    try:
        with conn.transaction():
            # SET LOCAL: the bound applies to this wait only, not to the caller's session
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true)", (f"{int(timeout_s * 1000)}ms",)
            )
            conn.execute("SELECT pg_advisory_lock_shared(hashtext(%s))", (key,))
            conn.execute("SELECT pg_advisory_unlock_shared(hashtext(%s))", (key,))
            conn.execute("SELECT set_config('lock_timeout', %s, true)", ("0",))
    except psycopg.errors.LockNotAvailable:
        raise RecordStillPending(
            f"the previous refresh of {repo!r} is still being recorded in Dagster after "
            f"{timeout_s:.0f} s (its log: $KGENTS_HOME/logs/hub-record.log); try again"
        ) from None


def record_failure(conn: psycopg.Connection[Any], repo: str, refresh_id: str, why: str) -> None:
    """A recorder that could not write every event says why, for the next command."""
    conn.execute(
        "INSERT INTO kv (key, value, repo) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value, repo = EXCLUDED.repo, updated_at = now()",
        (record_failure_key(repo), Jsonb({"refresh_id": refresh_id, "why": why}), repo),
    )


def read_record_failure(conn: psycopg.Connection[Any], repo: str) -> str | None:
    """Why the last refresh's Dagster record failed, if it did (and nothing ran since)."""
    row = conn.execute(
        "SELECT value FROM kv WHERE key = %s", (record_failure_key(repo),)
    ).fetchone()
    if row is None or not isinstance(row[0], dict):
        return None
    return str(row[0].get("why") or "unknown")
