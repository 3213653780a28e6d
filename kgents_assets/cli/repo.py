"""``kg repo``: the repositories one store and one Dagster instance model, side by side.

Each repository is a partition of the code assets. ``add`` registers it in the store and
as a partition in the instance; ``remove`` deletes its rows and artifacts and nothing else.
"""

from __future__ import annotations

import json
import shutil
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

repo_app = typer.Typer(help="Repositories modelled side by side (each one a partition).")
console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(code)


def _store() -> Any:
    from kgents_assets.store import DatabaseUnavailable, open_store

    try:
        return open_store(None)
    except DatabaseUnavailable as exc:
        _fail(f"database unavailable: {exc}", 3)


@repo_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Repository name: letters, digits, . _ -")],
    source: Annotated[str, typer.Argument(help="A local checkout's path, or a git URL")],
    branch: Annotated[
        str | None, typer.Option("--branch", help="Branch a git repository follows")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Register a repository (again with the same source: nothing changes)."""
    from kgents_assets.repos.names import InvalidRepoName
    from kgents_assets.repos.registry import RepositoryConflict, add_repository

    store = _store()
    try:
        repository, created = add_repository(store, name, source, branch)
    except (InvalidRepoName, RepositoryConflict, NotADirectoryError, ValueError) as exc:
        _fail(str(exc))
    # Dagster (~1 s to import) only once there is a partition to add: a mistyped name or
    # path is refused without it
    from kgents_assets.assets.partitions import ensure_partition
    from kgents_assets.instance import get_instance

    with get_instance() as instance:
        ensure_partition(instance, repository.name)
    if as_json:
        typer.echo(json.dumps({**repository.model_dump(mode="json"), "created": created}))
        return
    verb = "added" if created else "already registered:"
    console.print(
        f"{verb} [bold]{repository.name}[/bold] ({repository.source.value} {repository.location}"
        + (f", branch {repository.branch}" if repository.branch else "")
        + ")"
    )


def _freshness(last: Any) -> str:
    from datetime import UTC, datetime, timedelta

    if last is None:
        return "never refreshed"
    age = datetime.now(UTC) - last
    if age > timedelta(hours=24):
        return f"stale ({age.days} d)"
    if age > timedelta(hours=6):
        return f"ageing ({age.seconds // 3600} h)"
    return "fresh"


@repo_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Name, source, last refresh, nodes and freshness of every repository."""
    import os

    gateway_url = os.environ.get("KGENTS_GATEWAY_URL")
    if gateway_url:
        from kgents_assets.cli.gateway_client import list_repos_via_gateway

        rows = list_repos_via_gateway(gateway_url)
    else:
        from kgents_assets.hub.integrity import repository_counts
        from kgents_assets.repos.registry import list_repositories

        store = _store()
        rows = []
        with store.connect() as conn:
            for repository in list_repositories(store):
                counts = repository_counts(conn, repository.name)
                rows.append(
                    {
                        **repository.model_dump(mode="json"),
                        **counts,
                        "freshness": _freshness(repository.last_refresh_at),
                    }
                )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        console.print("no repositories yet: `kg repo add NAME PATH|URL` or `kg hub --once PATH`")
        return
    table = Table(title="repositories")
    for column in ("name", "source", "last refresh", "nodes", "freshness"):
        table.add_column(column)
    for row in rows:
        source = row["location"] + (f" @{row['branch']}" if row.get("branch") else "")
        table.add_row(
            row["name"],
            f"{row['source']}: {source}",
            str(row.get("last_refresh_at") or "-"),
            str(row.get("nodes", "-")),
            row.get("freshness", "-"),
        )
    Console().print(table)


@repo_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Repository to remove")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for a running refresh instead of refusing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete the repository's rows, markdown and clone; nothing of any other repository."""
    from kgents_assets.home import workspace_dir
    from kgents_assets.hub.markdown import NODES_DIR
    from kgents_assets.repos.models import RepoSource
    from kgents_assets.repos.registry import (
        RepositoryBusy,
        UnknownRepository,
        get_repository,
        remove_repository,
    )

    store = _store()
    try:
        repository = get_repository(store, name)
    except UnknownRepository as exc:
        _fail(str(exc))
    from dagster import DagsterRunStatus, RunsFilter  # see add: not for an unknown name

    from kgents_assets.assets.partitions import PARTITION_TAG, drop_partition
    from kgents_assets.instance import get_instance

    with get_instance() as instance:
        active = instance.get_run_records(
            RunsFilter(
                tags={PARTITION_TAG: name},
                statuses=[
                    DagsterRunStatus.QUEUED,
                    DagsterRunStatus.STARTING,
                    DagsterRunStatus.STARTED,
                ],
            )
        )
        if active and not wait:
            _fail(
                f"repository {name!r} has {len(active)} run(s) queued or in flight "
                f"({', '.join(r.dagster_run.run_id[:8] for r in active)}); try again when "
                "they end, or pass --wait"
            )
        try:
            counts = remove_repository(store, name, wait=wait)
        except RepositoryBusy as exc:
            _fail(str(exc))
        drop_partition(instance, name)
    # Artifacts only after the rows are gone: a failure here leaves files, never rows.
    if repository.source == RepoSource.LOCAL and repository.local_path is not None:
        shutil.rmtree(repository.local_path / NODES_DIR, ignore_errors=True)
    else:
        shutil.rmtree(workspace_dir() / repository.name, ignore_errors=True)
    if as_json:
        typer.echo(json.dumps({"removed": name, "rows": counts}))
        return
    console.print(
        f"removed [bold]{name}[/bold]: "
        + ", ".join(f"{table} {n}" for table, n in counts.items() if n)
    )
