"""``kg library lineage ID``: an entry's relationships as a tree, both directions.

Registered on ``kg library`` by ``kgents_assets/cli/library.py``; kept in its own module
so the lineage view and the rest of the library commands change independently.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from kgents_assets.catalog.errors import CatalogError
from kgents_assets.catalog.lineage import DEFAULT_DEPTH, MAX_DEPTH, Lineage, LineageNode
from kgents_assets.catalog.lineage import lineage as walk_lineage
from kgents_assets.catalog.models import RelationKind
from kgents_assets.store import DatabaseUnavailable, open_store

out = Console()
err = Console(stderr=True)


def _label(node: LineageNode, arrow: str) -> str:
    entry = node.entry
    text = (
        f"[cyan]{arrow} {node.kind.value}[/cyan]  [bold]{escape(entry.name)}[/bold] "
        f"[dim]{escape(entry.id)} ({entry.entity_type.value}, {entry.status.value})[/dim]"
    )
    if node.repeated:
        text += " [yellow](shown above)[/yellow]"
    if node.truncated:
        text += " [yellow]… more beyond the depth limit (raise --depth)[/yellow]"
    return text


def _grow(branch: Tree, nodes: list[LineageNode], arrow: str) -> None:
    for node in nodes:
        child = branch.add(_label(node, arrow))
        _grow(child, node.children, arrow)
        if node.omitted:
            branch.add(f"[yellow]… and {node.omitted} more[/yellow]")


def render(result: Lineage) -> Tree:
    root = result.root
    tree = Tree(
        f"[bold]{escape(root.name)}[/bold] [dim]{escape(root.id)} "
        f"({root.entity_type.value}, {root.status.value})[/dim]"
    )
    for title, nodes, arrow in (
        ("points to", result.outgoing, "→"),
        ("pointed to by", result.incoming, "←"),
    ):
        branch = tree.add(f"[bold]{title}[/bold]" + ("" if nodes else " [dim]nothing[/dim]"))
        _grow(branch, nodes, arrow)
    return tree


def lineage(
    entry_id: Annotated[str, typer.Argument(help="An entry id (see `kg library catalog`).")],
    depth: Annotated[
        int,
        typer.Option("--depth", "-d", min=1, max=MAX_DEPTH, help="How many edges away."),
    ] = DEFAULT_DEPTH,
    kinds: Annotated[
        list[RelationKind] | None,
        typer.Option("--kind", "-k", help="Only these relationship kinds (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """An entry's lineage: what it points to (successor_to, forked_from, depends_on,
    tested_by, implements, extends) and what points to it, as a tree."""
    try:
        store = open_store(None)
        with store.connect() as conn:
            result = walk_lineage(conn, entry_id, depth=depth, kinds=kinds)
    except CatalogError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except DatabaseUnavailable as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    out.print(render(result))
    shown = result.count()
    out.print(f"[dim]{shown} related entr{'y' if shown == 1 else 'ies'} within {depth} edges[/dim]")
