"""The one store: PostgreSQL + pgvector (embedded via pgserver, or an external server)."""

from kgents_assets.store.database import DatabaseUnavailable, Store, open_store

__all__ = ["DatabaseUnavailable", "Store", "open_store"]
