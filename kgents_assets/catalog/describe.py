"""Everything the catalog knows about one entry, as JSON: what ``kg library show`` prints
and what the gateway serves at ``/api/library/entries/{id}`` (one shape for both)."""

from __future__ import annotations

from typing import Any

import psycopg

from kgents_assets.catalog import storage


def describe_entry(conn: psycopg.Connection[Any], entry_id: str) -> dict[str, Any]:
    """The entry with its body, its vector's embedder and dimension, and the relationships
    pointing at it (``incoming``). Raises ``EntryNotFound``."""
    storage.prepare(conn)
    entry = storage.get_entry(conn, entry_id)
    vector = storage.entry_vector(conn, entry_id)
    incoming = conn.execute(
        "SELECT kind, src FROM catalog_relationships WHERE dst = %s ORDER BY kind, src",
        (entry_id,),
    ).fetchall()
    data = entry.model_dump(mode="json")
    data["embedder"] = vector[0] if vector else None
    data["dimension"] = int(vector[1].shape[0]) if vector else None
    data["incoming"] = [{"kind": k, "src": s} for k, s in incoming]
    return data
