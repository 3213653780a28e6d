"""``kg library``: the L-gent catalog from the command line.

Browse (``catalog``, ``show``, ``stats``), search (``discover``: hybrid by default), add
artifacts by hand (``register``) and re-embed everything (``reindex``). The store is the
one the pipeline writes: ``$KGENTS_DATABASE_URL``, else the embedded server under
``<repo>/.agentfs`` (repo = ``$KGENTS_REPO`` or the working directory).

With ``$KGENTS_GATEWAY_URL`` set, ``catalog``, ``discover`` and ``show`` ask that gateway
(a cluster's) instead, and fail with "cluster unavailable" when it does not answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kgents_assets.catalog import storage
from kgents_assets.catalog.describe import describe_entry
from kgents_assets.catalog.embedders import DEFAULT_SPEC, EMBEDDER_ENV, Embedder, get_embedder
from kgents_assets.catalog.errors import CatalogError, EmbedderUnavailable
from kgents_assets.catalog.models import (
    CatalogEntry,
    RelationKind,
    SearchHit,
    SearchMode,
    parse_entity_type,
    parse_status,
)
from kgents_assets.catalog.register import entry_from_file, register_entry
from kgents_assets.catalog.search import discover as discover_entries
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.cli.gateway_client import (
    ClusterUnavailable,
    GatewayClient,
    GatewayError,
    gateway_url,
)
from kgents_assets.cli.library_lineage import lineage
from kgents_assets.repo_root import resolve_repo_root
from kgents_assets.store import DatabaseUnavailable, Store, open_store

library_app = typer.Typer(
    name="library",
    help="The L-gent catalog: browse, search and register entries (code nodes, specs, ...).",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TypeOption = Annotated[str | None, typer.Option("--type", "-t", help="Only this entity type.")]
StatusOption = Annotated[
    str | None, typer.Option("--status", help="Only active, deprecated, retired or draft.")
]
EmbedderOption = Annotated[
    str | None,
    typer.Option("--embedder", help=f"Embedder spec (default ${EMBEDDER_ENV} or hashing)."),
]
RepoOption = Annotated[
    str | None, typer.Option("--repo", "-r", help="Only entries of this repository.")
]
DESCRIPTION_WIDTH = 70


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the catalog's, the embedder's and the store's errors into one clear line."""
    try:
        yield
    except (CatalogError, EmbedderUnavailable) as exc:
        _fail(str(exc))
    except (DatabaseUnavailable, ClusterUnavailable) as exc:
        _fail(str(exc), code=2)
    except GatewayError as exc:
        _fail(str(exc))


def _store() -> Store:
    return open_store(None)


def _embedder(spec: str | None) -> Embedder:
    return get_embedder(spec or os.environ.get(EMBEDDER_ENV) or DEFAULT_SPEC)


def _summary(entry: CatalogEntry) -> dict[str, Any]:
    data = entry.model_dump(mode="json", exclude={"body"})
    data["relationships"] = {k: list(v) for k, v in data["relationships"].items()}
    return data


def _short(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _entry_cell(entry: CatalogEntry) -> str:
    return (
        f"[bold]{escape(entry.name)}[/bold]\n[dim]{escape(entry.id)}[/dim]\n"
        f"{escape(_short(entry.description))}"
    )


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@library_app.command("catalog")
def catalog(
    entity_type: TypeOption = None,
    status: StatusOption = None,
    origin: Annotated[
        str | None, typer.Option("--origin", help="node, fixture or registered.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 200,
    repo: RepoOption = None,
    as_json: JsonOption = False,
) -> None:
    """List catalog entries, by type then name."""
    with _errors():
        etype = parse_entity_type(entity_type).value if entity_type else None
        stat = parse_status(status).value if status else None
        if (url := gateway_url()) is not None:
            with GatewayClient(url) as client:
                found = client.catalog(
                    entity_type=etype, status=stat, origin=origin, repo=repo, limit=limit
                )
            entries = [CatalogEntry.model_validate(e) for e in found]
        else:
            with _store().connect() as conn:
                entries = storage.list_entries(
                    conn, entity_type=etype, status=stat, origin=origin, repo=repo, limit=limit
                )
    if as_json:
        _print_json([_summary(e) for e in entries])
        return
    if not entries:
        out.print("[dim]no catalog entries match[/dim]")
        return
    table = Table(title=f"catalog ({len(entries)} entries)")
    table.add_column("type", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("entry (name, id for `show`, description)", overflow="fold")
    for e in entries:
        table.add_row(e.entity_type.value, e.status.value, _entry_cell(e))
    out.print(table)
    if len(entries) == limit:
        out.print(f"[dim]showing the first {limit}; raise --limit or filter with --type[/dim]")


@library_app.command("discover")
def discover(
    query: Annotated[str, typer.Argument(help="What you are looking for, in words or names.")],
    semantic: Annotated[bool, typer.Option("--semantic", help="Vectors only.")] = False,
    keyword: Annotated[bool, typer.Option("--keyword", help="Full-text only.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 10,
    entity_type: TypeOption = None,
    status: StatusOption = None,
    embedder: EmbedderOption = None,
    repo: RepoOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search the catalog: hybrid (keyword + semantic, fused by rank) unless told."""
    if semantic and keyword:
        _fail("choose one of --semantic and --keyword (neither means hybrid)", code=2)
    mode: SearchMode = "semantic" if semantic else "keyword" if keyword else "hybrid"
    with _errors():
        if (url := gateway_url()) is not None:
            if embedder is not None:
                _fail("--embedder is for a local catalog; the gateway searches with its own")
            with GatewayClient(url) as client:
                found = client.discover(
                    query, mode=mode, limit=limit, entity_type=entity_type, status=status,
                    repo=repo,
                )  # fmt: skip
            hits = [SearchHit.model_validate(h) for h in found["hits"]]
        else:
            model = _embedder(embedder) if mode != "keyword" else None
            narrow: dict[str, Any] = {} if repo is None else {"repo": repo}
            hits = discover_entries(
                _store(), query, mode=mode, limit=limit, entity_type=entity_type,
                status=status, embedder=model, **narrow,
            )  # fmt: skip
    if as_json:
        _print_json(
            [
                {**h.model_dump(mode="json", exclude={"entry"}), "entry": _summary(h.entry)}
                for h in hits
            ]
        )
        return
    if not hits:
        out.print(f"[dim]nothing found for {escape(query)!r} ({mode})[/dim]")
        return
    _hits_table(hits, f"{mode} search: {query}")


def _hits_table(hits: list[SearchHit], title: str) -> None:
    table = Table(title=escape(title))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("entry (name, id, description)", overflow="fold")
    table.add_column("why", style="dim")
    for rank, hit in enumerate(hits, start=1):
        why = []
        if hit.keyword_rank is not None:
            why.append(f"kw#{hit.keyword_rank}")
        if hit.semantic_rank is not None:
            why.append(f"sem#{hit.semantic_rank} cos={hit.similarity:.2f}")
        table.add_row(
            str(rank), f"{hit.score:.4f}", hit.entry.entity_type.value, _entry_cell(hit.entry),
            "\n".join(why),
        )  # fmt: skip
    out.print(table)


@library_app.command("register")
def register(
    path: Annotated[Path, typer.Argument(help="The file to register (spec, agent, ...).")],
    entity_type: Annotated[str, typer.Option("--type", "-t", help="Entity type.")],
    name: Annotated[str | None, typer.Option("--name", help="Default: the file name.")] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", "-d", help="Default: its docstring or first paragraph."),
    ] = None,
    keywords: Annotated[
        list[str] | None, typer.Option("--keyword", "-k", help="Repeatable.")
    ] = None,
    status: Annotated[str, typer.Option("--status")] = "active",
    version: Annotated[str, typer.Option("--version")] = "1",
    author: Annotated[str | None, typer.Option("--author")] = None,
    successor_to: Annotated[list[str] | None, typer.Option("--successor-to")] = None,
    forked_from: Annotated[list[str] | None, typer.Option("--forked-from")] = None,
    depends_on: Annotated[list[str] | None, typer.Option("--depends-on")] = None,
    tested_by: Annotated[list[str] | None, typer.Option("--tested-by")] = None,
    embedder: EmbedderOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add (or update) an artifact: stored, embedded and related in one transaction."""
    given = {
        RelationKind.SUCCESSOR_TO: successor_to,
        RelationKind.FORKED_FROM: forked_from,
        RelationKind.DEPENDS_ON: depends_on,
        RelationKind.TESTED_BY: tested_by,
    }
    relations = [(kind, target) for kind, targets in given.items() for target in targets or []]
    with _errors():
        entry = entry_from_file(
            path, entity_type, root=resolve_repo_root(), name=name, description=description,
            keywords=keywords or [], status=status, version=version, author=author,
        )  # fmt: skip
        stored = register_entry(_store(), entry, _embedder(embedder), relations)
    if as_json:
        _print_json(_summary(stored))
        return
    out.print(
        f"[green]registered[/green] {escape(stored.id)} ({stored.entity_type.value}): "
        f"{escape(_short(stored.description))}"
    )


@library_app.command("show")
def show(
    entry_id: Annotated[str, typer.Argument(help="An entry id (see `kg library catalog`).")],
    as_json: JsonOption = False,
) -> None:
    """Everything the catalog knows about one entry."""
    with _errors():
        if (url := gateway_url()) is not None:
            with GatewayClient(url) as client:
                data = client.entry(entry_id)
        else:
            with _store().connect() as conn:
                data = describe_entry(conn, entry_id)
    if as_json:
        _print_json(data)
        return
    entry = CatalogEntry.model_validate(data)
    embedder, dimension = data["embedder"], data["dimension"]
    incoming = [(i["kind"], i["src"]) for i in data["incoming"]]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows: list[tuple[str, str]] = [
        ("id", entry.id), ("type", entry.entity_type.value), ("name", entry.name),
        ("version", entry.version), ("status", entry.status.value), ("origin", entry.origin),
        ("path", entry.path or "-"), ("keywords", ", ".join(entry.keywords) or "-"),
        ("description", entry.description),
        ("embedding", f"{embedder} ({dimension} dims)" if embedder else "none"),
    ]  # fmt: skip
    if entry.deprecation_reason:
        rows.append(("deprecated", entry.deprecation_reason))
    for kind, targets in entry.relationships.items():
        rows.append((kind.value, ", ".join(targets)))
    for kind, src in incoming:
        rows.append((f"← {kind}", src))
    for label, value in rows:
        grid.add_row(label, escape(value))
    out.print(Panel(grid, title=escape(entry.name), expand=False))


@library_app.command("stats")
def stats(as_json: JsonOption = False) -> None:
    """How many entries of each type/status/origin, and which embedder made the vectors."""
    with _errors(), _store().connect() as conn:
        data = storage.catalog_stats(conn)
    if as_json:
        _print_json(data)
        return
    embedder = data["embedder"]
    out.print(
        f"[bold]{data['entries']}[/bold] entries, {data['embedded_current']} with a current "
        f"vector; embedder: {embedder['id'] if embedder else 'none yet'}; "
        f"HNSW indexes: {', '.join(data['hnsw_indexes']) or 'none'}"
    )
    for title in ("by_type", "by_status", "by_origin", "relationships"):
        if data[title]:
            table = Table(title=title.replace("_", " "))
            table.add_column("value")
            table.add_column("entries", justify="right")
            for key, count in data[title].items():
                table.add_row(key, str(count))
            out.print(table)


@library_app.command("reindex")
def reindex(
    embedder: EmbedderOption = None, repo: RepoOption = None, as_json: JsonOption = False
) -> None:
    """Full reconcile: compare every node state (of one repository with --repo) with the
    catalog and (re-)embed whatever lacks a current vector, e.g. after changing
    $KGENTS_EMBEDDER."""
    with _errors():
        model = _embedder(embedder)
        store = _store()
        if as_json:
            report = sync_catalog(store, model, repo=repo, full=True)
        else:
            with Progress(
                TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err, transient=True,
            ) as bar:  # fmt: skip
                task = bar.add_task("embedding", total=None)

                def update(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = sync_catalog(store, model, repo=repo, full=True, progress=update)
    if as_json:
        _print_json(report.as_dict())
        return
    out.print(
        f"[green]reindexed[/green] with {report.embedder} ({report.reason}): "
        f"+{report.added} ~{report.updated} -{report.removed}, {report.reembedded} embedded "
        f"in {report.duration_s:.2f}s"
    )


library_app.command("lineage")(lineage)
