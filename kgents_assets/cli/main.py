"""``kg``: one entry point; each domain contributes a sub-command group.

Groups are imported only when invoked: ``kg fixture list`` must not pay for the catalog's
numpy and psycopg or for Dagster, which other groups need.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

#: group name -> "module:attribute" of its Typer app
LAZY_GROUPS = {
    "admin": "kgents_assets.cli.admin:admin_app",
    "fixture": "kgents_assets.cli.fixture:fixture_app",
    "gateway": "kgents_assets.cli.gateway:gateway_app",
    "hub": "kgents_assets.cli.hub:hub_app",
    "library": "kgents_assets.cli.library:library_app",
    "repo": "kgents_assets.cli.repo:repo_app",
    "world": "kgents_assets.cli.world:world_app",
}


class LazyGroup(TyperGroup):
    # ctx is typer's vendored click Context; typed loosely to stay out of its internals
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_GROUPS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        target = LAZY_GROUPS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        sub_app = getattr(importlib.import_module(module), attribute)
        command = typer.main.get_command(sub_app)
        command.name = cmd_name
        return command


app = typer.Typer(
    name="kg",
    cls=LazyGroup,
    help="kgents-assets: a living model of a code repository and of the kgents demo world.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """kgents-assets: a living model of a code repository and of the kgents demo world."""
