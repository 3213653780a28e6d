"""``kg hub context|failure|impact``: what the hub knows, for a person or a coding agent.

Command functions only; ``kgents_assets/cli/hub.py`` registers them under ``kg hub``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from kgents_assets.hub.context import (
    DEFAULT_TOP_N,
    HubContextBlob,
    missing_context,
    node_context,
    repository_root,
)
from kgents_assets.hub.failure_bundle import bundle_for, journaled_failures
from kgents_assets.hub.failure_bundle import render_markdown as render_failure
from kgents_assets.hub.freshness import DEFAULT_MAX_AGE_S
from kgents_assets.hub.impact import impact_for
from kgents_assets.hub.impact import render_markdown as render_impact
from kgents_assets.hub.impact import write_summary as write_impact
from kgents_assets.hub.node_lookup import Miss
from kgents_assets.store import DatabaseUnavailable, Store, open_store

out = Console()
err = Console(stderr=True)

RepoOption = Annotated[
    str | None,
    typer.Option("--repo", "-r", help="Repository name (default: search every repository)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts and agents.")]
_COLOURS = {"fresh": "green", "stale": "yellow", "missing": "red"}
EXIT_MISSING = 1
EXIT_HUB_DOWN = 2


def open_hub() -> tuple[Store | None, str | None]:
    """The configured store, or None and why not (the commands still answer)."""
    try:
        return open_store(None), None
    except DatabaseUnavailable as exc:
        return None, f"the hub is down: {exc}"


def _render(blob: HubContextBlob) -> Panel:
    colour = _COLOURS[blob.freshness_status]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[tuple[str, str]] = [
        ("freshness", f"[{colour}]{blob.freshness_status}[/{colour}]: "
                      f"{escape(blob.freshness_reason)}"),
    ]  # fmt: skip
    if blob.node_id:
        where = f"{blob.file_path}:{blob.start_line}-{blob.end_line}" if blob.file_path else "?"
        rows += [
            ("node", escape(f"{blob.full_name} ({blob.kind or '?'}) in {blob.repo}")),
            ("where", escape(where)),
            ("id", escape(blob.node_id)),
        ]
    if blob.signature is not None:
        rows += [
            ("signature", escape(blob.signature)),
            ("docstring", escape(blob.docstring_summary or "-")),
            ("complexity", str(blob.complexity)),
        ]
        for title, refs, total in (
            ("callers", blob.callers, blob.callers_total),
            ("callees", blob.callees, blob.callees_total),
        ):
            lines = [
                f"{escape(r.full_name)} [dim]{r.confidence:.2f} "
                f"{escape(r.file_path or '?')}:{r.line or '?'}[/dim]"
                for r in refs
            ]
            if total > len(refs):
                lines.append(f"[dim]… {total - len(refs)} more[/dim]")
            rows.append((f"{title} ({total})", "\n".join(lines) or "-"))
        tests = [escape(t.pytest_id or t.full_name) for t in blob.related_tests]
        rows.append((f"tests ({len(tests)})", "\n".join(tests) or "-"))
        rows += [
            ("state key", escape(blob.hub_state_key or "-")),
            ("last updated", str(blob.last_updated or "-")),
            ("source version", escape(blob.source_version or "-")),
        ]
    for label, value in rows:
        grid.add_row(label, value)
    title = escape(blob.full_name or blob.target)
    return Panel(grid, title=title, border_style=colour, expand=False)


def context(
    target: Annotated[
        str,
        typer.Argument(help="A node id, a (qualified) name, or path:line (repository-relative)."),
    ],
    repo: RepoOption = None,
    top: Annotated[int, typer.Option("--top", min=1, max=200, help="Callers/callees shown.")] = (
        DEFAULT_TOP_N
    ),
    max_age_s: Annotated[
        float,
        typer.Option("--max-age", min=0, help="Seconds after which a state counts as stale."),
    ] = DEFAULT_MAX_AGE_S,
    as_json: JsonOption = False,
) -> None:
    """A node's hub context (signature, callers, callees, tests) and whether it is fresh,
    stale or missing; exit 1 when missing, 2 when the hub is down."""
    store, down = open_hub()
    if store is None:
        blob = missing_context(target, repo, down or "the hub is down")
    else:
        blob = node_context(store, target, repo=repo, top_n=top, max_age_s=max_age_s, surface="cli")
    if as_json:
        typer.echo(blob.model_dump_json(indent=2))
    else:
        out.print(_render(blob))
        if blob.warning:
            err.print(f"[yellow]warning:[/yellow] {escape(blob.warning)}")
    if blob.freshness_status == "missing":
        down_now = blob.freshness_reason.startswith("the hub is down")
        raise typer.Exit(EXIT_HUB_DOWN if down_now else EXIT_MISSING)


def _only_repository(conn: Any) -> str | None:
    names = [r[0] for r in conn.execute("SELECT name FROM repositories ORDER BY name")]
    return names[0] if len(names) == 1 else None


def failure(
    test_id: Annotated[
        str | None,
        typer.Argument(help="A pytest node id (default: the latest failing test)."),
    ] = None,
    repo: RepoOption = None,
    as_json: JsonOption = False,
) -> None:
    """The failure context bundle of a failing test from the event journal, written under
    .agentfs/failures/ and shown; exit 1 when no failure is journaled."""
    store, down = open_hub()
    if store is None:
        err.print(f"[red]error:[/red] {escape(down or 'the hub is down')}")
        raise typer.Exit(EXIT_HUB_DOWN)
    with store.connect() as conn:
        found = journaled_failures(conn, repo=repo, test=test_id)
        if not found:
            which = f" for {test_id}" if test_id else ""
            err.print(f"no failing test{escape(which)} in the event journal (run pytest with "
                      "KGENTS_EVENTS=1, or post CI results to the gateway)")  # fmt: skip
            raise typer.Exit(EXIT_MISSING)
        name = repo or found[0].repo or _only_repository(conn)
        if name is None:
            err.print("[red]error:[/red] which repository ran this test? pass --repo")
            raise typer.Exit(EXIT_MISSING)
        bundle = bundle_for(conn, found[0], name, repository_root(conn, name), store=store)
    if as_json:
        typer.echo(bundle.model_dump_json(indent=2))
        return
    out.print(Markdown(render_failure(bundle)))
    if bundle.artifact:
        out.print(f"[dim]written to {escape(bundle.artifact)}[/dim]")


def impact(
    node: Annotated[str, typer.Argument(help="A node id, a (qualified) name or path:line.")],
    repo: RepoOption = None,
    as_json: JsonOption = False,
) -> None:
    """The impact of changing or removing a public symbol: every callsite (file:line,
    confidence), the tests to run, exporting modules, similar APIs; written under
    .agentfs/impact/. A removed symbol is found in the recorded API changes."""
    store, down = open_hub()
    if store is None:
        err.print(f"[red]error:[/red] {escape(down or 'the hub is down')}")
        raise typer.Exit(EXIT_HUB_DOWN)
    with store.connect() as conn:
        summary = impact_for(conn, node, repo, lambda name: repository_root(conn, name))
        if isinstance(summary, Miss):
            err.print(f"[red]error:[/red] {escape(summary.reason)}")
            raise typer.Exit(EXIT_MISSING)
        root = repository_root(conn, summary.repo)
        if root is not None:
            write_impact(root, summary, conn)
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
        return
    out.print(Markdown(render_impact(summary)))
    if summary.artifact:
        out.print(f"[dim]written to {escape(summary.artifact)}[/dim]")
