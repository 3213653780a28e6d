"""``kg admin``: operator commands for a deployment (the Helm chart's migration Job).

``kg admin migrate`` brings the store's schema up to date and says what it applied. It is
safe to run from many places at once (a Helm hook, a gateway starting, a run Job): the
migrations serialise on an advisory lock and each is recorded once.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

#: Exit status when the database cannot be reached (distinct from 1, a bug or bad input):
#: a Kubernetes Job retries either way, but an operator reading the pod's status can tell a
#: network or credentials problem from a broken migration.
EXIT_UNREACHABLE = 3

admin_app = typer.Typer(
    name="admin",
    help="Operator commands for a deployment: schema migrations.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@admin_app.callback()
def admin() -> None:
    """Operator commands for a deployment: schema migrations."""


@admin_app.command("migrate")
def migrate(
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL (default $KGENTS_DATABASE_URL or the embedded server)"),
    ] = None,
) -> None:
    """Apply the store's pending schema migrations and print each one applied."""
    from kgents_assets.store import DatabaseUnavailable, open_store

    try:
        store = open_store(database_url, migrate=False)
        applied = store.migrate()
    except DatabaseUnavailable as exc:
        err.print(f"[red]database unreachable:[/] {exc}", markup=True, highlight=False)
        err.print(
            "Check KGENTS_DATABASE_URL (host, port, database, user), that the server is up "
            "and that its password Secret matches.",
            highlight=False,
        )
        raise typer.Exit(EXIT_UNREACHABLE) from None
    for name in applied:
        out.print(f"applied {name}", highlight=False)
    summary = f"{len(applied)} migration(s) applied" if applied else "schema up to date"
    out.print(f"{summary} on {store.display_url}", highlight=False)
