"""The store resource: real PostgreSQL, external by URL or embedded under .agentfs/pg."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

from kgents_assets.store import Store, open_store
from kgents_assets.store.database import DATABASE_URL_ENV

_OPENED: dict[tuple[str, str], Store] = {}


class StoreResource(ConfigurableResource["StoreResource"]):
    """``database_url`` unset means ``$KGENTS_DATABASE_URL``, else the embedded pgserver.

    With a URL configured and the server down, ``open`` raises ``DatabaseUnavailable``:
    the run fails with that message rather than writing to a different database.
    """

    database_url: str | None = None
    agentfs_dir: str | None = None

    def open(self, default_agentfs: Path) -> Store:
        agentfs = Path(self.agentfs_dir) if self.agentfs_dir else default_agentfs
        key = (self.database_url or os.environ.get(DATABASE_URL_ENV) or "", str(agentfs))
        # One process opens (and migrates) a store once, however many assets and checks ask.
        if key not in _OPENED:
            _OPENED[key] = open_store(self.database_url, agentfs_dir=agentfs)
        return _OPENED[key]
