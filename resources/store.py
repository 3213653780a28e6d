"""The store resource: real PostgreSQL, external by URL or the embedded pgserver."""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from kgents_assets.home import embedded_store_dir
from kgents_assets.store import Store, open_store
from kgents_assets.store.database import DATABASE_URL_ENV

_OPENED: dict[str, Store] = {}


class StoreResource(ConfigurableResource["StoreResource"]):
    """``database_url`` unset means ``$KGENTS_DATABASE_URL``, else the embedded pgserver in
    ``$KGENTS_HOME/pg`` (one store for every repository of this machine).

    With a URL configured and the server down, ``open`` raises ``DatabaseUnavailable``:
    the run fails with that message rather than writing to a different database.
    """

    database_url: str | None = None

    def open(self) -> Store:
        url = self.database_url or os.environ.get(DATABASE_URL_ENV) or ""
        key = url or f"embedded:{embedded_store_dir()}"
        # One process opens (and migrates) a store once, however many assets and checks ask.
        if key not in _OPENED:
            _OPENED[key] = open_store(url or None)
        return _OPENED[key]
