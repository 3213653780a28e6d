"""``kg``: one entry point; each domain contributes a sub-command group."""

from __future__ import annotations

import typer

from kgents_assets.cli.fixture import fixture_app
from kgents_assets.cli.gateway import gateway_app
from kgents_assets.cli.hub import hub
from kgents_assets.cli.library import library_app

app = typer.Typer(
    name="kg",
    help="kgents-assets: a living model of a code repository and of the kgents demo world.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("hub")(hub)
app.add_typer(fixture_app, name="fixture")
app.add_typer(gateway_app, name="gateway")
app.add_typer(library_app, name="library")
