"""The ``repositories`` table: which repositories one store models (its only owner).

Removing a repository deletes every row that carries its name, in one transaction, and
only those: the repository column is on every table whose rows belong to a repository.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from kgents_assets.repos.models import Repository, RepoSource, looks_like_git_url
from kgents_assets.repos.names import validate_repo_name
from kgents_assets.store import Store

_COLUMNS = "name, source, location, branch, added_at, last_refresh_at, last_sha, last_run_id, host"

#: every table whose rows belong to one repository, in the order removal deletes them
REPO_TABLES = (
    "hub_context_traces",
    "hub_api_changes",
    "hub_api_baselines",
    "hub_api_snapshot",
    "hub_test_runs",
    "hub_test_seen",
    "hub_test_baselines",
    "hub_artifacts",
    "hub_dirty",
    "hub_edges",
    "hub_traces",
    "hub_nodes",
    "hub_files",
    "kv",
    "catalog_entries",
    "sensor_failure_contexts",
    "sensor_actions",
    "sensor_events",
)


class UnknownRepository(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        listing = ", ".join(known) if known else "none yet (add one with `kg repo add`)"
        super().__init__(f"unknown repository {name!r}; known repositories: {listing}")
        self.name, self.known = name, known


class RepositoryConflict(ValueError):
    """The name is taken by a different source, or the source under a different name."""


class RepositoryBusy(RuntimeError):
    """A refresh of the repository holds its lock; removal would leave half a repository."""


def _row(row: tuple[Any, ...]) -> Repository:
    name, source, location, branch, added, refreshed, sha, run_id, host = row
    return Repository(
        name=name,
        source=RepoSource(source),
        location=location,
        branch=branch,
        added_at=added,
        last_refresh_at=refreshed,
        last_sha=sha,
        last_run_id=run_id,
        host=host,
    )


def this_host() -> str:
    """The name local paths registered here are recorded under."""
    return socket.gethostname()


def normalize_location(location: str) -> tuple[RepoSource, str]:
    """A git URL stays as given; anything else must be an existing local directory."""
    if looks_like_git_url(location):
        return RepoSource.GIT, location
    path = Path(location).expanduser().resolve()
    if not path.is_dir():
        raise NotADirectoryError(
            f"{location!r} is neither a directory nor a git URL (https://, ssh://, file://, "
            "git@host:path)"
        )
    return RepoSource.LOCAL, str(path)


def list_repositories(store: Store) -> list[Repository]:
    with store.connect() as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM repositories ORDER BY name").fetchall()
    return [_row(r) for r in rows]


def find_repository(conn: psycopg.Connection[Any], name: str) -> Repository | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM repositories WHERE name = %s", (name,)).fetchone()
    return None if row is None else _row(row)


def get_repository(store: Store, name: str) -> Repository:
    with store.connect() as conn:
        found = find_repository(conn, name)
        if found is None:
            known = [r[0] for r in conn.execute("SELECT name FROM repositories ORDER BY name")]
            raise UnknownRepository(name, known)
    return found


def repository_for_location(store: Store, location: str) -> Repository | None:
    with store.connect() as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM repositories WHERE location = %s", (location,)
        ).fetchone()
    return None if row is None else _row(row)


def add_repository(
    store: Store, name: str, location: str, branch: str | None = None
) -> tuple[Repository, bool]:
    """Register a repository; returns (it, created). Adding the same name with the same
    source again is a no-op (installs and scripts may repeat it); a name taken by another
    source, or a source already registered under another name, is refused with both named.
    """
    validate_repo_name(name)
    source, where = normalize_location(location)
    if source == RepoSource.LOCAL and branch:
        raise ValueError("--branch applies to git URLs only; a local checkout is read as it is")
    with store.transaction() as conn:
        conn.execute("LOCK TABLE repositories IN SHARE ROW EXCLUSIVE MODE")
        existing = find_repository(conn, name)
        if existing is not None:
            if (existing.source, existing.location, existing.branch) == (source, where, branch):
                return existing, False
            if existing.location == "" and source == RepoSource.LOCAL:
                # rows of an upgraded database whose path was unknown: this claims them
                conn.execute(
                    "UPDATE repositories SET location = %s, host = %s WHERE name = %s",
                    (where, this_host(), name),
                )
                return existing.model_copy(update={"location": where, "host": this_host()}), False
            raise RepositoryConflict(
                f"repository {name!r} is already registered for {existing.location}"
                + (f" (branch {existing.branch})" if existing.branch else "")
                + f"; {where} needs another name (--name)"
            )
        other = conn.execute(
            "SELECT name FROM repositories WHERE location = %s AND branch IS NOT DISTINCT FROM %s",
            (where, branch),
        ).fetchone()
        if other is not None:
            raise RepositoryConflict(f"{where} is already registered as repository {other[0]!r}")
        row = conn.execute(
            "INSERT INTO repositories (name, source, location, branch, host) "
            f"VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (
                name,
                source.value,
                where,
                branch,
                this_host() if source == RepoSource.LOCAL else None,
            ),
        ).fetchone()
    assert row is not None
    return _row(row), True


def relocate_repository(store: Store, name: str, old: str, new: str) -> Repository | None:
    """Point local repository ``name`` from ``old`` to ``new``; None when it no longer is at
    ``old`` (another process moved or removed it first)."""
    with store.transaction() as conn:
        conn.execute("LOCK TABLE repositories IN SHARE ROW EXCLUSIVE MODE")
        row = conn.execute(
            "UPDATE repositories SET location = %s, host = %s WHERE name = %s AND location = %s "
            f"AND source = %s RETURNING {_COLUMNS}",
            (new, this_host(), name, old, RepoSource.LOCAL.value),
        ).fetchone()
    return None if row is None else _row(row)


def record_refresh(
    conn: psycopg.Connection[Any], name: str, *, run_id: str, sha: str | None, at: datetime
) -> None:
    conn.execute(
        "UPDATE repositories SET last_refresh_at = %s, last_run_id = %s, "
        "last_sha = coalesce(%s, last_sha) WHERE name = %s",
        (at, run_id, sha, name),
    )


def repository_lock_key(name: str) -> str:
    """The advisory-lock key a refresh of ``name`` holds while it writes (hub stages)."""
    return f"kgents:repo:{name}"


@contextmanager
def repository_write_lock(conn: psycopg.Connection[Any], name: str) -> Iterator[None]:
    """Hold the repository's lock for the current transaction, waiting for a refresh."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (repository_lock_key(name),))
    yield


def remove_repository(store: Store, name: str, *, wait: bool = False) -> dict[str, int]:
    """Delete every row of ``name`` (all tables listed in REPO_TABLES) in one transaction.

    A refresh of the repository holds its stage locks while it writes; removal takes the
    same lock, so it either waits for the refresh (``wait``) or refuses with
    RepositoryBusy: never half a repository. Returns the rows deleted per table.
    """
    with store.transaction() as conn:
        if find_repository(conn, name) is None:
            known = [r[0] for r in conn.execute("SELECT name FROM repositories ORDER BY name")]
            raise UnknownRepository(name, known)
        key = repository_lock_key(name)
        if wait:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
        else:
            got = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (key,)).fetchone()
            if not (got and got[0]):
                raise RepositoryBusy(
                    f"repository {name!r} is being refreshed right now; try again when the "
                    "run ends (or pass --wait)"
                )
        counts: dict[str, int] = {}
        for table in REPO_TABLES:
            cur = conn.execute(f"DELETE FROM {table} WHERE repo = %s", (name,))
            counts[table] = cur.rowcount
        cur = conn.execute("DELETE FROM sensor_events WHERE repo = %s", (name,))
        counts["sensor_events"] = cur.rowcount
        conn.execute("DELETE FROM repositories WHERE name = %s", (name,))
    return counts
