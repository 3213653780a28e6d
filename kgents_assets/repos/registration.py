"""Registering a local checkout by path: what ``kg hub --once PATH`` and ``kg hub --watch
PATH`` do before their first run, so they keep working with zero setup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kgents_assets.repos.models import Repository, RepoSource
from kgents_assets.repos.names import derive_repo_name, validate_repo_name
from kgents_assets.repos.registry import (
    RepositoryConflict,
    add_repository,
    find_repository,
    relocate_repository,
    repository_for_location,
    this_host,
)
from kgents_assets.store import Store


def _silent(_: str) -> None:
    return None


def register_local_path(
    store: Store, path: Path, name: str | None = None, notify: Callable[[str], None] = _silent
) -> Repository:
    """The repository registered for ``path`` (registering it under ``name``, else a name
    derived from its directory). A path already registered keeps its name; a name taken by
    another path is an error naming both, never a silent merge of two repositories.

    A name whose local checkout no longer exists follows the new path instead (a clone
    moved, or cloned afresh after the old one was deleted): its index is reused, what
    differs is refreshed, and ``notify`` is told in one sentence."""
    where = str(path.resolve())
    existing = repository_for_location(store, where)
    if existing is not None and (name is None or name == existing.name):
        return existing
    chosen = validate_repo_name(name) if name is not None else derive_repo_name(where)
    with store.connect() as conn:
        taken = find_repository(conn, chosen)
    if existing is None and taken is not None and _vanished(taken):
        moved = relocate_repository(store, chosen, taken.location, where)
        if moved is not None:
            notify(
                f"repository {chosen!r} was at {taken.location}, which no longer exists; "
                f"it now follows {where}"
            )
            return moved
        with store.connect() as conn:
            taken = find_repository(conn, chosen)
    if taken is not None and taken.location not in ("", where):
        hint = " (choose one with --name)" if name is None else ""
        raise RepositoryConflict(
            f"repository name {chosen!r} is already used by {taken.location}; "
            f"{where} needs another name{hint}"
        )
    if existing is not None:
        raise RepositoryConflict(
            f"{where} is already registered as repository {existing.name!r}, not {chosen!r}"
        )
    repository, _ = add_repository(store, chosen, where)
    return repository


def _vanished(repository: Repository) -> bool:
    """A local checkout of this machine whose directory is gone (a path registered from
    another machine sharing the store is that machine's, missing here or not)."""
    return (
        repository.source == RepoSource.LOCAL
        and repository.location != ""
        and repository.host in (None, this_host())
        and not Path(repository.location).exists()
    )
