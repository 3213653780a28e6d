"""``kg``: one entry point; each domain contributes a sub-command group.

Groups are imported only when invoked (``kgents_assets.cli._lazy``): ``kg fixture list``
must not pay for the catalog's numpy and psycopg or for Dagster, which other groups need,
and ``kg --help`` lists every group without importing any of them. Add a group with one
line in ``LAZY_GROUPS``; ``tests/cli/test_cli_start.py`` checks the list and the imports.
"""

from __future__ import annotations

import typer

from kgents_assets.cli._lazy import LazyGroup
from kgents_assets.cli.interrupts import accept_interrupts

#: group name -> "module:attribute" of its Typer app
LAZY_GROUPS = {
    "admin": "kgents_assets.cli.admin:admin_app",
    "fixture": "kgents_assets.cli.fixture:fixture_app",
    "gateway": "kgents_assets.cli.gateway:gateway_app",
    "hub": "kgents_assets.cli.hub:hub_app",
    "library": "kgents_assets.cli.library:library_app",
    "mcp": "kgents_assets.cli.mcp:mcp_app",
    "repo": "kgents_assets.cli.repo:repo_app",
    "world": "kgents_assets.cli.world:world_app",
}


class KgGroup(LazyGroup):
    registry = LAZY_GROUPS


app = typer.Typer(
    name="kg",
    cls=KgGroup,
    # plain help for the top level: Rich's help formatter alone would double the start time
    # of `kg --help` (the groups' own help pages keep Rich)
    rich_markup_mode=None,
    help="kgents-assets: a living model of a code repository and of the kgents demo world.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """kgents-assets: a living model of a code repository and of the kgents demo world."""
    accept_interrupts()
