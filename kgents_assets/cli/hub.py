"""``kg hub``: materialize the code model of a repository once, or keep it fresh.

``kg hub --once`` first asks whether there is anything to run (``hub_skip``: a stat scan,
the pending marks, the last run and the configuration, the fixtures' TTLs) and says so in
one line when there is not: no Dagster imported, no run recorded. When only a few files
changed since a run that ended well, it refreshes them in this process without a Dagster
run (``hub_inprocess``: the watch daemon's refresh, recorded as runless materializations).
Otherwise, or with ``--run``, it runs every asset that has work (fresh fixtures left out)
in-process against the shared instance.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kgents_assets.cli._lazy import LazyGroup

if TYPE_CHECKING:
    from dagster import AssetKey, ExecuteInProcessResult

    from kgents_assets.cli.hub_skip import Decision
    from kgents_assets.repos.models import Repository
    from kgents_assets.store import Store


def _err(message: str) -> None:
    """A plain line on stderr (Rich, which the run's table uses, costs a no-op its import)."""
    sys.stderr.write(message + "\n")


def _run_once(root: Path, as_json: bool, name: str | None, force_run: bool = False) -> int:
    from kgents_assets.cli.hub_skip import decide
    from kgents_assets.hub.clean_run import RecordStillPending
    from kgents_assets.repos.names import InvalidRepoName, derive_repo_name
    from kgents_assets.repos.registration import register_local_path
    from kgents_assets.repos.registry import RepositoryConflict
    from kgents_assets.store import DatabaseUnavailable, open_store
    from kgents_assets.store.migrations import LegacyRepository

    started = time.perf_counter()
    try:  # a database that is down is a one-line answer, not a failed run's traceback
        store = open_store(None, migrate=False)
        # a database built before repositories existed: its rows become this repository's
        migrated = store.migrate(LegacyRepository(name or derive_repo_name(str(root)), str(root)))
        repository = register_local_path(store, root, name, notify=_err)
        with store.connect() as conn:
            decision = decide(conn, repository, root, migrated)
    except DatabaseUnavailable as exc:
        _err(f"database unavailable: {exc}")
        return 3
    except (RepositoryConflict, InvalidRepoName) as exc:
        _err(str(exc))
        return 2
    except RecordStillPending as exc:  # the previous refresh's Dagster record never landed
        _err(str(exc))
        return 1
    if force_run:
        if not decision.run:
            decision = replace(decision, run=True, reason="--run asked for a Dagster run")
        return _run_dagster(root, store, repository, decision, as_json)
    if decision.small_change:
        from kgents_assets.cli.hub_record import ChildRecorder

        # Before anything else is imported: it takes the repository's "record pending"
        # lock while the refresh runs (its interpreter start off this process's path),
        # and imports Dagster (~2.5 s of CPU) and writes the record after this command
        # has ended. Not earlier: started with the command (measured), a recorder
        # competed with a no-op's own work on two busy cores, 1.07 -> 1.83 s on Django.
        recorder = ChildRecorder(repository.name, store.url)
        try:
            from kgents_assets.cli.hub_inprocess import run_in_process

            code = run_in_process(root, store, repository, decision, as_json, started, recorder)
        finally:
            recorder.close()
        _end_process(code)
        return code
    if not decision.run:
        return _say_unchanged(root, repository, decision, as_json, started)
    return _run_dagster(root, store, repository, decision, as_json)


def _end_process(code: int) -> None:
    """End this process now with ``code``, without the interpreter's teardown.

    After an in-process refresh the interpreter's own teardown (clearing ~700 modules and
    what the refresh left in memory) took 1.0-1.8 s between the last exit handler and the
    process's end on Django under load (0.08 s without it), after everything was said:
    the person waited for nothing. What an exit must do still happens: the exit handlers
    (logging, the embedded server's handle, the catalog's pools) and the output flushed. A
    thread still working (none is expected here) keeps the normal exit, which waits for it,
    and so does any caller but the ``kg`` executable (a test, a program calling the command
    in its own process: it gets the return value).
    """
    import atexit
    import contextlib
    import os
    import threading

    if Path(sys.argv[0]).name != "kg":
        return
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (kg ... | head): what Python's own exit would lose too
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _say_unchanged(
    root: Path, repository: Repository, decision: Decision, as_json: bool, started: float
) -> int:
    from kgents_assets.sentences import unchanged_sentence

    check = decision.check
    assert check is not None  # a skip always comes from a scan
    sentence = unchanged_sentence(
        repository.name, decision.last_run_id, check.files_checked, check.duration_s
    )
    if not as_json:
        typer.echo(sentence)
        return 0
    summary: dict[str, Any] = {
        "summary": sentence,
        "repository": repository.name,
        "path": str(root),
        "run_id": None,  # no run: nothing to do
        "last_run_id": decision.last_run_id,
        "nothing_changed": True,
        "success": True,
        "duration_s": round(time.perf_counter() - started, 3),
        "files_checked": check.files_checked,
        "check_s": round(check.duration_s, 4),
        "assets": {},
        "failed_steps": {},
        "skipped_steps": [],
        "fresh_fixtures": decision.fresh_fixtures,
        "checks": {},
    }
    typer.echo(json.dumps(summary, indent=2))
    return 0


def _run_dagster(
    root: Path, store: Store, repository: Repository, decision: Decision, as_json: bool
) -> int:
    from dagster import DagsterEventType
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from kgents_assets.cli._instance import get_instance
    from kgents_assets.cli.hub_skip import configuration
    from kgents_assets.hub.clean_run import forget_clean_run, record_clean_run
    from kgents_assets.runner import fresh_fixtures, materialize_everything, run_selection
    from kgents_assets.sentences import run_summary_sentence

    console = Console(stderr=True)
    if not as_json:
        console.print(f"[dim]running: {decision.reason}[/dim]", highlight=False)
    with store.transaction() as conn:
        # a run that dies halfway must leave no "nothing to do" record behind
        forget_clean_run(conn, repository.name)
        ran_under = configuration(conn)
    instance = get_instance()
    run_id = str(uuid.uuid4())
    # a fixture within its TTL has nothing to regenerate: left out of the run, said so below
    fresh = fresh_fixtures()
    selection = run_selection(list(fresh.values()))
    done_types = {
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
    }
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
        task = progress.add_task(f"materializing {root}", total=selection.steps)

        def on_event(entry: Any) -> None:
            # called by the instance as each event of this run is stored: no polling
            if entry.dagster_event is not None and entry.dagster_event_type in done_types:
                progress.update(task, advance=1, description=f"done: {entry.step_key or ''}")

        instance.add_event_listener(run_id, on_event)
        result = materialize_everything(
            repository.name,
            instance=instance,
            run_id=run_id,
            log_level="WARNING",
            selection=selection,
        )
        progress.update(task, completed=selection.steps)
    elapsed = time.perf_counter() - started
    outcome = _outcome(result)
    # a failing check (say, files with syntax errors) is the data's news, not a failed run:
    # a run with nothing to do would not evaluate it again either
    if result.success:
        with store.transaction() as conn:
            record_clean_run(conn, repository.name, run_id, ran_under)
    rows, failures = outcome["rows"], outcome["failures"]
    skipped, checks = outcome["skipped"], outcome["checks"]
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
                    "run_reason": decision.reason,
                    "success": result.success,
                    "duration_s": round(elapsed, 3),
                    "assets": rows,
                    "failed_steps": failures,
                    "skipped_steps": skipped,
                    "fresh_fixtures": sorted(fresh),
                    "checks": checks,
                },
                indent=2,
                default=str,
            )
        )
        return 0 if result.success else 1
    _print_table(root, repository.name, run_id, elapsed, rows, skipped, fresh)
    failed_checks = [n for n, ok in checks.items() if not ok]
    if failed_checks:
        console.print(f"[yellow]checks not passing:[/yellow] {', '.join(failed_checks)}")
    for step, reason in failures.items():
        console.print(f"[red]failed:[/red] {step}: {reason} (run {run_id})")
    return 0 if result.success else 1


def _outcome(result: ExecuteInProcessResult) -> dict[str, Any]:
    """What a run did, per asset (the summary's metadata), and what failed or was skipped."""
    from dagster import DagsterEventType

    from kgents_assets.sentences import summary_metadata

    rows: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        key = mat.asset_key.to_user_string()
        rows[key] = summary_metadata(key, mat.metadata)
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
            key = obs.asset_key.to_user_string()
            rows.setdefault(key, summary_metadata(key, obs.metadata, "outcome"))
    skipped = sorted(
        str(e.step_key) for e in result.all_events if e.event_type == DagsterEventType.STEP_SKIPPED
    )
    checks = {
        e.asset_check_evaluation_data.asset_check_key.name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }
    return {"rows": rows, "failures": failures, "skipped": skipped, "checks": checks}


def _print_table(
    root: Path,
    repository: str,
    run_id: str,
    elapsed: float,
    rows: dict[str, dict[str, Any]],
    skipped: list[str],
    fresh: dict[str, AssetKey],
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"kg hub --once {root} as {repository!r}  ({elapsed:.1f} s, run {run_id[:8]})"
    )
    table.add_column("asset")
    table.add_column("what happened")
    grouped: dict[str, int] = {}
    for key, meta in rows.items():
        if "/" in key:  # fixture-style keys: one line per family, not per file
            family = key.split("/", 1)[0]
            grouped[family] = grouped.get(family, 0) + 1
            continue
        table.add_row(key, ", ".join(f"{k}={v}" for k, v in meta.items()) or "materialized")
    fresh_families: dict[str, int] = {}
    for fixture in fresh:
        family = fresh[fixture].path[0]
        fresh_families[family] = fresh_families.get(family, 0) + 1
    for family in sorted(set(grouped) | set(fresh_families)):
        parts = [f"{grouped[family]} assets materialized"] if family in grouped else []
        if family in fresh_families:
            parts.append(f"{fresh_families[family]} fresh, skipped")
        table.add_row(family, ", ".join(parts))
    asset_steps = [s for s in skipped if s in ("node_state", "node_markdown", "catalog_embeddings")]
    if asset_steps:
        table.add_row(", ".join(asset_steps), "nothing to do, skipped")
    Console().print(table)


class HubGroup(LazyGroup):
    """``kg hub PATH --once`` and ``kg hub context|failure|impact ...`` side by side: a first
    argument that is not a sub-command is the repository path of the default command.

    The context commands are imported only when they run (their Rich panels and the hub's
    context modules are not what ``kg hub --once`` needs)."""

    registry = {
        "context": "kgents_assets.cli.hub_context:context",
        "failure": "kgents_assets.cli.hub_context:failure",
        "impact": "kgents_assets.cli.hub_context:impact",
    }

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
    "context for coding agents. kg hub PATH --once [--run] [--json] | --watch: a small edit "
    "is refreshed without a Dagster run (checks not evaluated), --run forces the run "
    "(options: kg hub run --help).",
    no_args_is_help=False,
)


@hub_app.callback()
def _hub_group() -> None:
    # a callback keeps `kg hub` a group: its only Typer-registered command is the hidden
    # default (the context commands come from HubGroup.registry), and Typer turns an app
    # with one command and no callback into that command
    pass


@hub_app.command(DEFAULT_COMMAND, hidden=True)
def hub(
    path: Annotated[
        Path, typer.Argument(help="Repository to model (default: $KGENTS_REPO or .)")
    ] = Path(),
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Bring every asset up to date once and exit: nothing changed -> one line, "
            "no run; a few files changed -> refreshed in this process without a Dagster run "
            "(checks not evaluated); otherwise a Dagster run.",
        ),
    ] = False,
    force_run: Annotated[
        bool,
        typer.Option(
            "--run",
            help="With --once: always a real Dagster run (every step, asset checks evaluated).",
        ),
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
        _err("choose one of --once or --watch")
        raise typer.Exit(2)
    if force_run and not once:
        _err("--run goes with --once")
        raise typer.Exit(2)
    try:
        root = resolve_repo_root(str(path) if str(path) else None)
    except NotADirectoryError as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc
    if once:
        raise typer.Exit(_run_once(root, as_json, name, force_run))
    from rich.console import Console

    from sensors.daemon import run_watch

    console = Console(stderr=True)
    raise typer.Exit(run_watch(root, console=console, name=name))
