"""``kg hub context|failure|impact``: what the hub knows, for a person or a coding agent.

Command functions only; ``kgents_assets/cli/hub.py`` registers them under ``kg hub``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from kgents_assets.hub.context import DEFAULT_TOP_N, HubContextBlob, missing_context, node_context
from kgents_assets.hub.freshness import DEFAULT_MAX_AGE_S
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
