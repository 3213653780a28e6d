"""Embedded PostgreSQL servers that tests start through the product's defaults."""

from __future__ import annotations

import os
from pathlib import Path


def stop_embedded_server(pgdata: Path) -> None:
    """Stop a pgserver left running (``cleanup_mode=None``) so tests leak no postmaster."""
    if not (pgdata / "postmaster.pid").exists():
        return
    from pgserver._commands import pg_ctl  # type: ignore[import-untyped]

    # pgserver runs postgres as its own user when we are root (postgres refuses root).
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
