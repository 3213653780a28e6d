"""Errors the catalog raises: each says what was wrong and what to do about it."""

from __future__ import annotations


class CatalogError(ValueError):
    """Base class: bad input or a state the catalog refuses to work in."""


class EmptyDescription(CatalogError):
    """An entry without a description cannot be found by anyone: it is rejected."""


class UnknownEntityType(CatalogError):
    """The entity type is not one the catalog knows."""


class UnknownStatus(CatalogError):
    """The status is not one of active, deprecated, retired, draft."""


class StopWordQuery(CatalogError):
    """The query holds no searchable term (only stop words or punctuation)."""


class EmbedderMismatch(CatalogError):
    """Vectors of one embedder compared with vectors of another (dimension or model)."""


class EmbedderUnavailable(RuntimeError):
    """A configured embedder cannot run here (missing extra, missing model, bad spec)."""


class RelationshipCycle(CatalogError):
    """Adding the relationship would close a cycle (successor_to, forked_from, ... are DAGs)."""


class EntryNotFound(CatalogError, LookupError):
    """No catalog entry has that id."""
