"""``kg fixture``: list, refresh, validate and inspect HotData fixtures.

`kg fixture list` stays fast: it only stats files and imports neither Dagster, Rich nor
the demo-world models. `refresh` materializes the fixtures' Dagster assets in the local instance, so
history and lineage stay in one place; `--dry-run` generates in memory and writes nothing.
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kgents_assets.cli._fixture_table import render_table, use_color
from kgents_assets.hotdata.catalog import default_registry
from kgents_assets.hotdata.errors import HotDataError
from kgents_assets.hotdata.names import validate_fixture_name
from kgents_assets.hotdata.registry import FixtureState, HotDataRegistry

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from rich.console import Console

fixture_app = typer.Typer(
    name="fixture",
    help="HotData fixtures: pre-computed demo and test data with a TTL.",
    no_args_is_help=True,
)


@functools.cache
def _console(stderr: bool = False) -> Console:
    # Rich is imported on first use: `kg fixture list` prints without it.
    from rich.console import Console

    # soft_wrap: a path or message is never broken across lines when piped.
    return Console(stderr=stderr, soft_wrap=True)


STATE_STYLE = {
    FixtureState.FRESH: "green",
    FixtureState.STALE: "yellow",
    FixtureState.MISSING: "red",
}

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Fixtures directory (default $KGENTS_FIXTURES_DIR or fixtures/)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _registry(directory: Path | None) -> HotDataRegistry:
    return default_registry(directory.resolve() if directory else None)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return (
                f"{seconds / size:.0f}{unit}"
                if seconds < 10 * size
                else f"{seconds // size:.0f}{unit}"
            )
    return f"{seconds:.0f}s"


def _display_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def _resolve_names(registry: HotDataRegistry, names: list[str]) -> list[str]:
    try:
        for name in names:
            validate_fixture_name(name)  # says *why* '../x' or '/etc/x' is refused
            registry.get(name)
    except HotDataError as exc:
        raise _fail(str(exc), 2) from None
    return names


@fixture_app.command("list")
def list_fixtures(
    stale: Annotated[bool, typer.Option("--stale", help="Only stale or missing.")] = False,
    as_json: JsonOption = False,
    directory: DirOption = None,
) -> None:
    """Every registered fixture: name, FRESH/STALE/MISSING, age and path."""
    registry = _registry(directory)
    now = time.time()
    rows = [registry.get_status(name, now) for name in registry.list_all()]
    if stale:
        rows = [row for row in rows if row.state is not FixtureState.FRESH]
    if as_json:
        typer.echo(json.dumps([row.to_dict() for row in rows], indent=2))
        return
    if not rows:
        typer.echo("no stale or missing fixtures" if stale else "no fixtures registered")
        return
    table = render_table(
        ["name", "status", "age", "ttl", "path"],
        [
            [
                row.name,
                row.state.value,
                human_age(row.age_seconds),
                "forever" if row.ttl_seconds is None else human_age(row.ttl_seconds),
                _display_path(row.path),
            ]
            for row in rows
        ],
        [STATE_STYLE[row.state] for row in rows],
        color=use_color(),
    )
    counts = {state: sum(r.state is state for r in rows) for state in FixtureState}
    summary = " · ".join(f"{n} {s.value.lower()}" for s, n in counts.items())
    typer.echo(f"fixtures in {_display_path(str(registry.root))}\n{table}\n{summary}")


def _materialize(registry: HotDataRegistry, names: list[str]) -> tuple[bool, str, dict[str, str]]:
    """Run one Dagster materialization of the fixtures' assets (and their checks).

    Returns (success, run id, {fixture name: error message} for the fixtures that failed)."""
    import dagster as dg

    from kgents_assets.assets.hotdata import build_hotdata_defs, fixture_asset_key
    from kgents_assets.cli._instance import get_instance
    from kgents_assets.hotdata.catalog import load_specs
    from kgents_assets.hotdata.names import asset_key_parts
    from resources.fixtures import FixturesResource
    from resources.llm import llm_resource_from_env

    defs = build_hotdata_defs(load_specs())
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    checks = list(defs.asset_checks or [])
    instance: DagsterInstance = get_instance()
    result = dg.materialize(
        [*assets, *checks],
        selection=dg.AssetSelection.assets(*(fixture_asset_key(n) for n in names)),
        instance=instance,
        resources={
            "fixtures": FixturesResource(path=str(registry.root)),
            "llm": llm_resource_from_env(),
        },
        raise_on_error=False,
        # The run's event log (stack traces included) lands in the instance; the terminal
        # gets one line per failed fixture below.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        tags={"kgents/trigger": "kg fixture refresh"},
    )
    errors: dict[str, str] = {}
    step_names = {"__".join(asset_key_parts(n)): n for n in names}
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            # The user-code error is the cause of Dagster's wrapper error.
            cause = error.cause or error
            message = cause.message.strip()
            if cause.cls_name and f".{cause.cls_name}: " in message.split("\n", 1)[0]:
                message = message.split(": ", 1)[1]  # drop "package.module.ErrorClass: "
            step = event.step_key or ""
            errors[step_names.get(step, step)] = message
    return result.success, result.run_id, errors


@fixture_app.command("refresh")
def refresh(
    names: Annotated[list[str] | None, typer.Argument(help="Fixture names.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every stale or missing fixture.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Regenerate even if fresh.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, write nothing.")] = False,
    directory: DirOption = None,
) -> None:
    """Regenerate fixtures through a Dagster materialization (stale/missing ones, or all
    named ones with --force)."""
    registry = _registry(directory)
    if all_ and names:
        raise _fail("give fixture names or --all, not both", 2)
    if not all_ and not names:
        raise _fail("name a fixture (see `kg fixture list`) or pass --all", 2)
    targets = registry.list_all() if all_ else _resolve_names(registry, list(names or []))
    if not force:
        fresh = [n for n in targets if registry.get(n).is_fresh()]
        for name in fresh if not all_ else []:
            status = registry.get_status(name)
            _console().print(
                f"{name} is fresh (age {human_age(status.age_seconds)}); "
                "use --force to regenerate it anyway"
            )
        targets = [n for n in targets if n not in fresh]
    if not targets:
        _console().print("nothing to refresh")
        return
    if dry_run:
        _dry_run(registry, targets)
        return
    with _console().status(f"materializing {len(targets)} fixture(s) in Dagster..."):
        ok, run_id, errors = _materialize(registry, targets)
    for name in targets:
        # Per-step results, not file state: a failed refresh keeps a possibly fresh file.
        mark = "[red]failed[/red]" if name in errors else "[green]ok[/green]"
        _console().print(f"{mark} {name} -> {_display_path(registry.get_status(name).path)}")
    _console().print(f"dagster run {run_id}")
    if not ok:
        for name, message in errors.items():
            _console(stderr=True).print(f"{name}: {message}", markup=False, highlight=False)
        raise _fail("refresh failed; previous fixture files were kept")


def _dry_run(registry: HotDataRegistry, targets: list[str]) -> None:
    import asyncio

    from kgents_assets.hotdata.models import record_count

    failed = False
    for name in targets:
        hotdata = registry.get(name)
        try:
            value, data = asyncio.run(registry.render(name))
        except HotDataError as exc:
            failed = True
            _console(stderr=True).print(f"{name}: {exc}", markup=False, highlight=False)
            continue
        current = hotdata.path.read_bytes() if hotdata.exists() else None
        change = (
            "new file"
            if current is None
            else "unchanged"
            if current == data
            else f"changed (was {len(current)} bytes)"
        )
        _console().print(
            f"would write {_display_path(str(hotdata.path))}: {len(data)} bytes, "
            f"{record_count(value)} record(s), {change}",
            highlight=False,
        )
    _console().print("dry run: nothing was written")
    if failed:
        raise typer.Exit(1)


@fixture_app.command("validate")
def validate(
    names: Annotated[list[str] | None, typer.Argument(help="Fixture names (default all).")] = None,
    as_json: JsonOption = False,
    directory: DirOption = None,
) -> None:
    """Check every fixture file against its schema; exit 1 if any is missing or invalid."""
    registry = _registry(directory)
    targets = _resolve_names(registry, list(names)) if names else registry.list_all()
    results: list[dict[str, Any]] = []
    for name in targets:
        try:
            registry.get(name).load()
            results.append({"name": name, "valid": True, "issues": []})
        except HotDataError as exc:
            issues = [str(i) for i in getattr(exc, "issues", [])] or [str(exc)]
            results.append({"name": name, "valid": False, "issues": issues})
    bad = [r for r in results if not r["valid"]]
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        for r in results:
            mark = "[green]valid[/green]  " if r["valid"] else "[red]INVALID[/red]"
            _console().print(f"{mark} {r['name']}")
            for issue in r["issues"]:
                _console().print(f"          {issue}", markup=False, highlight=False)
        _console().print(f"{len(results) - len(bad)} valid, {len(bad)} invalid")
    if bad:
        raise typer.Exit(1)


@fixture_app.command("info")
def info(
    name: Annotated[str, typer.Argument(help="Fixture name.")],
    as_json: JsonOption = False,
    directory: DirOption = None,
) -> None:
    """Everything about one fixture: spec, status, validation and records."""
    from kgents_assets.hotdata.models import record_count
    from kgents_assets.hotdata.names import asset_key_parts

    registry = _registry(directory)
    _resolve_names(registry, [name])
    spec, status = registry.spec(name), registry.get_status(name)
    details: dict[str, Any] = status.to_dict() | {
        "schema": spec.schema if isinstance(spec.schema, str) else spec.schema.__qualname__,
        "seed": spec.seed,
        "entropy": spec.entropy,
        "params": spec.params,
        "llm_prompt": spec.llm_prompt,
        "asset_key": "/".join(asset_key_parts(name)),
    }
    try:
        value = registry.get(name).load()
        details |= {"valid": True, "records": record_count(value), "issues": []}
    except HotDataError as exc:
        details |= {
            "valid": False,
            "records": None,
            "issues": [str(i) for i in getattr(exc, "issues", [])] or [str(exc)],
        }
    if as_json:
        typer.echo(json.dumps(details, indent=2, default=str))
        return
    from rich.table import Table

    table = Table(show_header=False, title=name, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in details.items():
        if key == "age_seconds":
            key, value = "age", human_age(value)
        elif key == "ttl_seconds":
            key, value = "ttl", "forever" if value is None else human_age(value)
        elif key == "state":
            value = f"[{STATE_STYLE[FixtureState(value)]}]{value}[/]"
        table.add_row(
            key,
            "\n".join(value)
            if isinstance(value, list) and value and isinstance(value[0], str)
            else str(value),
        )
    _console().print(table)


if __name__ == "__main__":  # `python -m kgents_assets.cli.fixture ...` works without `kg`
    fixture_app()
