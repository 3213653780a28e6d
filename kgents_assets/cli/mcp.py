"""``kg mcp``: serve the hub to coding agents over MCP (stdio).

Configure an editor's agent with the command ``kg mcp`` (and ``KGENTS_DATABASE_URL`` when
the hub's store is external); see ``kgents_assets/mcp_server.py`` for the tools.
"""

from __future__ import annotations

import typer

mcp_app = typer.Typer(
    name="mcp",
    help="Serve node context, catalog search, failure bundles and impact summaries to "
    "coding agents over MCP (stdio).",
    invoke_without_command=True,
)


@mcp_app.callback()
def serve() -> None:
    """Run the MCP server on stdin/stdout until the client closes it."""
    from kgents_assets.mcp_server import run_stdio

    run_stdio()
