"""``kg hub``: materialize the code model of a repository once, or keep it fresh."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from kgents_assets.cli.hub_context import context, failure, impact

console = Console(stderr=True)

_SUMMARY_KEYS = {
    "code_nodes": (
        "files_scanned",
        "files_changed",
        "files_deleted",
        "nodes_added",
        "nodes_changed",
        "nodes_removed",
        "parse_errors",
        "skipped_files",
    ),
    "node_state": (
        "nodes_processed",
        "states_added",
        "states_changed",
        "states_removed",
        "decisions",
    ),
    "node_markdown": ("written", "removed"),
}


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


def _run_once(root: Path, as_json: bool, name: str | None) -> int:
    from dagster import DagsterEventType

    from kgents_assets.cli._instance import get_instance
    from kgents_assets.repos.names import InvalidRepoName, derive_repo_name
    from kgents_assets.repos.registration import register_local_path
    from kgents_assets.repos.registry import RepositoryConflict
    from kgents_assets.runner import fresh_fixtures, materialize_everything, step_count
    from kgents_assets.sentences import run_summary_sentence
    from kgents_assets.store import DatabaseUnavailable, open_store
    from kgents_assets.store.migrations import LegacyRepository

    try:  # a database that is down is a one-line answer, not a failed run's traceback
        # a database built before repositories existed: its rows become this repository's
        legacy = LegacyRepository(name or derive_repo_name(str(root)), str(root))
        store = open_store(None, legacy=legacy)
        repository = register_local_path(store, root, name)
    except DatabaseUnavailable as exc:
        console.print(f"[red]database unavailable:[/red] {exc}")
        return 3
    except (RepositoryConflict, InvalidRepoName) as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    instance = get_instance()
    run_id = str(uuid.uuid4())
    outcome: dict[str, Any] = {}
    # a fixture within its TTL has nothing to regenerate: left out of the run, said so below
    fresh = fresh_fixtures()

    def work() -> None:
        try:
            outcome["result"] = materialize_everything(
                repository.name,
                instance=instance,
                run_id=run_id,
                log_level="WARNING",
                skip=list(fresh.values()),
            )
        except BaseException as exc:  # reported below, in the main thread
            outcome["error"] = exc

    total = step_count(skip=list(fresh.values()))
    worker = threading.Thread(target=work, name="kg-hub-run", daemon=True)
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
        disable=as_json,
    ) as progress:
        task = progress.add_task(f"materializing {root}", total=total)
        worker.start()
        seen = 0
        while worker.is_alive() or seen == 0:
            worker.join(timeout=0.2)
            records = (
                instance.get_records_for_run(
                    run_id,
                    of_type={
                        DagsterEventType.STEP_SUCCESS,
                        DagsterEventType.STEP_FAILURE,
                        DagsterEventType.STEP_SKIPPED,
                    },
                ).records
                if instance.has_run(run_id)
                else []
            )
            seen = len(records)
            if records:
                last = records[-1].event_log_entry.step_key or ""
                progress.update(task, completed=seen, description=f"done: {last}")
            if not worker.is_alive():
                break
        progress.update(task, completed=total)

    if "error" in outcome:  # step failures come back in the result; this is anything else
        raise outcome["error"]
    result = outcome["result"]
    rows: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        name = mat.asset_key.to_user_string()
        rows[name] = {
            k: _metadata_value(v)
            for k, v in mat.metadata.items()
            if k in _SUMMARY_KEYS.get(name, ("records", "path"))
        }
    failures = {
        e.step_key or "?": (e.step_failure_data.error.message.strip().splitlines() or ["?"])[-1]
        if e.step_failure_data.error
        else "failed"
        for e in result.all_events
        if e.event_type == DagsterEventType.STEP_FAILURE
    }
    # code_nodes observed instead of materialized: nothing changed, its downstream skipped
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_OBSERVATION:
            obs = event.asset_observation_data.asset_observation
            name = obs.asset_key.to_user_string()
            rows.setdefault(
                name,
                {
                    k: _metadata_value(v)
                    for k, v in obs.metadata.items()
                    if k in (*_SUMMARY_KEYS.get(name, ()), "outcome")
                },
            )
    skipped = sorted(
        str(e.step_key) for e in result.all_events if e.event_type == DagsterEventType.STEP_SKIPPED
    )
    checks = [
        (e.asset_check_evaluation_data.asset_check_key.name, e.asset_check_evaluation_data.passed)
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    elapsed = time.perf_counter() - started
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "summary": run_summary_sentence(
                        run_id,
                        result.success,
                        rows,
                        elapsed,
                        failures,
                        repository=repository.name,
                    ),
                    "repository": repository.name,
                    "path": str(root),
                    "run_id": run_id,
                    "success": result.success,
                    "duration_s": round(elapsed, 3),
                    "assets": rows,
                    "failed_steps": failures,
                    "skipped_steps": skipped,
                    "fresh_fixtures": sorted(fresh),
                    "checks": {name: passed for name, passed in checks},
                },
                indent=2,
                default=str,
            )
        )
    else:
        table = Table(
            title=f"kg hub --once {root} as {repository.name!r}  "
            f"({elapsed:.1f} s, run {run_id[:8]})"
        )
        table.add_column("asset")
        table.add_column("what happened")
        grouped: dict[str, int] = {}
        for name, meta in rows.items():
            if "/" in name:  # fixture-style keys: one line per family, not per file
                family = name.split("/", 1)[0]
                grouped[family] = grouped.get(family, 0) + 1
                continue
            table.add_row(name, ", ".join(f"{k}={v}" for k, v in meta.items()) or "materialized")
        fresh_families: dict[str, int] = {}
        for fixture in fresh:
            family = fresh[fixture].path[0]
            fresh_families[family] = fresh_families.get(family, 0) + 1
        for family in sorted(set(grouped) | set(fresh_families)):
            parts = [f"{grouped[family]} assets materialized"] if family in grouped else []
            if family in fresh_families:
                parts.append(f"{fresh_families[family]} fresh, skipped")
            table.add_row(family, ", ".join(parts))
        asset_steps = [
            s for s in skipped if s in ("node_state", "node_markdown", "catalog_embeddings")
        ]
        if asset_steps:
            table.add_row(", ".join(asset_steps), "nothing to do, skipped")
        Console().print(table)
        failed_checks = [n for n, ok in checks if not ok]
        if failed_checks:
            console.print(f"[yellow]checks not passing:[/yellow] {', '.join(failed_checks)}")
        for step, reason in failures.items():
            console.print(f"[red]failed:[/red] {step}: {reason} (run {run_id})")
    return 0 if result.success else 1


class HubGroup(TyperGroup):
    """``kg hub PATH --once`` and ``kg hub context|failure|impact ...`` side by side: a first
    argument that is not a sub-command is the repository path of the default command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        names = set(self.list_commands(ctx))
        first = next((a for a in args if not a.startswith("-")), None)
        wants_help = any(a in ("--help", "-h") for a in args) and first is None
        if not wants_help and (first is None or first not in names):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


DEFAULT_COMMAND = "run"
hub_app = typer.Typer(
    cls=HubGroup,
    help="The code-node hub: node state and markdown for repositories, once or kept fresh; "
    "context for coding agents.",
    no_args_is_help=False,
)


hub_app.command("context")(context)
hub_app.command("failure")(failure)
hub_app.command("impact")(impact)


@hub_app.command(DEFAULT_COMMAND, hidden=True)
def hub(
    path: Annotated[
        Path, typer.Argument(help="Repository to model (default: $KGENTS_REPO or .)")
    ] = Path(),
    once: Annotated[
        bool, typer.Option("--once", help="Materialize every asset once and exit.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Stay running; refresh on every change.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Repository name (default: the directory's name); its partition."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary (with --once).")
    ] = False,
) -> None:
    """kg hub PATH --once | --watch: model a repository once, or keep it fresh."""
    from kgents_assets.repo_root import resolve_repo_root

    if once == watch:
        console.print("choose one of [bold]--once[/bold] or [bold]--watch[/bold]")
        raise typer.Exit(2)
    try:
        root = resolve_repo_root(str(path) if str(path) else None)
    except NotADirectoryError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if once:
        raise typer.Exit(_run_once(root, as_json, name))
    from sensors.daemon import run_watch

    raise typer.Exit(run_watch(root, console=console, name=name))
