"""``kg gateway``: serve the terrarium gateway (FastAPI under uvicorn)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

gateway_app = typer.Typer(
    help="Serve the terrarium gateway: live agent mirrors, perturbation, purgatory, widget.",
    invoke_without_command=True,
    no_args_is_help=False,
)
console = Console(stderr=True)


@gateway_app.callback()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    repo: Annotated[
        Path, typer.Option(help="repository root (fixtures/, .agentfs/ live under it)")
    ] = Path(),
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL (default $KGENTS_DATABASE_URL or embedded pgserver)"),
    ] = None,
    dagster_home: Annotated[
        Path | None,
        typer.Option(help="Dagster instance (default $DAGSTER_HOME or $KGENTS_HOME/dagster)"),
    ] = None,
    no_dagster: Annotated[
        bool, typer.Option("--no-dagster", help="do not host the pipeline and hub agents")
    ] = False,
    reload: Annotated[bool, typer.Option(help="reload on code changes (development)")] = False,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev", help="hot-reload the demo world when fixture files change ($KGENTS_DEV_MODE)"
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the gateway. Without KGENTS_GATEWAY_TOKEN a one-off token is generated and
    printed (in the page URL's fragment, which browsers never send to a server)."""
    import uvicorn

    from gateway.app import create_app
    from gateway.server import uvicorn_config
    from gateway.settings import DEV_MODE_ENV, TOKEN_ENV, GatewaySettings

    if dev:  # through the environment, so that --reload's fresh processes see it too
        os.environ[DEV_MODE_ENV] = "1"

    if not os.environ.get(TOKEN_ENV):
        os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)
        console.print(
            f"[yellow]{TOKEN_ENV} is not set; generated a token for this run.[/]\n"
            f"Open [bold]http://{host}:{port}/#token={os.environ[TOKEN_ENV]}[/] "
            "to approve semaphores from the page."
        )
    settings = GatewaySettings.from_env(
        repo_root=repo.resolve(),
        database_url=database_url,
        dagster_home=dagster_home,
        dagster_agents=not no_dagster,
    )
    if reload:
        # uvicorn reloads by import string; settings then come from the environment.
        uvicorn.run(
            "gateway.app:create_app",
            factory=True,
            host=host,
            port=port,
            reload=True,
            ws="websockets-sansio",
            log_level=log_level,
        )
        return
    app = create_app(settings)
    console.print(f"terrarium gateway on http://{host}:{port}  (OpenAPI: /docs)")
    uvicorn.Server(uvicorn_config(app, settings, host=host, port=port, log_level=log_level)).run()
