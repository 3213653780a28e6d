"""The L-gent catalog: entries for code nodes, fixtures and registered artifacts, their
vectors in pgvector, and keyword / semantic / hybrid search. No Dagster in here.

Exports resolve lazily: the code location imports ``kgents_assets.catalog.embedders``
(a spec string) to *define* its assets, and must not pay for numpy and psycopg (``drift``)
in every run process before the run starts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgents_assets.catalog.drift import embedding_drift
    from kgents_assets.catalog.errors import (
        CatalogError,
        EmbedderMismatch,
        EmbedderUnavailable,
        EmptyDescription,
        EntryNotFound,
        RelationshipCycle,
        StopWordQuery,
        UnknownEntityType,
        UnknownStatus,
    )
    from kgents_assets.catalog.models import (
        CatalogEntry,
        EntityType,
        RelationKind,
        SearchHit,
        SearchMode,
        Status,
    )

_EXPORTS = {
    "embedding_drift": "kgents_assets.catalog.drift",
    **dict.fromkeys(
        (
            "CatalogError",
            "EmbedderMismatch",
            "EmbedderUnavailable",
            "EmptyDescription",
            "EntryNotFound",
            "RelationshipCycle",
            "StopWordQuery",
            "UnknownEntityType",
            "UnknownStatus",
        ),
        "kgents_assets.catalog.errors",
    ),
    **dict.fromkeys(
        ("CatalogEntry", "EntityType", "RelationKind", "SearchHit", "SearchMode", "Status"),
        "kgents_assets.catalog.models",
    ),
}

__all__ = [
    "CatalogEntry",
    "CatalogError",
    "EmbedderMismatch",
    "EmbedderUnavailable",
    "EmptyDescription",
    "EntityType",
    "EntryNotFound",
    "RelationKind",
    "RelationshipCycle",
    "SearchHit",
    "SearchMode",
    "Status",
    "StopWordQuery",
    "UnknownEntityType",
    "UnknownStatus",
    "embedding_drift",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
