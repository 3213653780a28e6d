"""The L-gent catalog: entries for code nodes, fixtures and registered artifacts, their
vectors in pgvector, and keyword / semantic / hybrid search. No Dagster in here."""

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
