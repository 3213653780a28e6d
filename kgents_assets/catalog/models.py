"""The L-gent catalog entry (compatible with the kgents original) and search hits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kgents_assets.catalog.errors import EmptyDescription, UnknownEntityType, UnknownStatus
from kgents_assets.catalog.text import truncate

#: Stored text is bounded so an enormous file cannot bloat the table or the tsvector
#: (Postgres refuses a tsvector over 1 MB); cuts are deterministic (see text.truncate).
MAX_DESCRIPTION_CHARS = 4_000
MAX_BODY_CHARS = 20_000
MAX_KEYWORDS = 64


class EntityType(StrEnum):
    """What an entry is: the L-gent artifact kinds plus the code-node kinds."""

    AGENT = "agent"
    CONTRACT = "contract"
    MEMORY = "memory"
    SPEC = "spec"
    TEST = "test"
    TEMPLATE = "template"
    PATTERN = "pattern"
    TONGUE = "tongue"
    HYPOTHESIS = "hypothesis"
    MODULE = "module"
    CLASS = "class"
    FUNCTION = "function"
    METHOD = "method"


NODE_ENTITY_TYPES = frozenset(
    {EntityType.MODULE, EntityType.CLASS, EntityType.FUNCTION, EntityType.METHOD, EntityType.TEST}
)


class Status(StrEnum):
    ACTIVE = "active"
    DEPRECATED = "deprecated"
    RETIRED = "retired"
    DRAFT = "draft"


class RelationKind(StrEnum):
    """Directed relationships; each kind's graph is kept acyclic."""

    SUCCESSOR_TO = "successor_to"
    FORKED_FROM = "forked_from"
    DEPENDS_ON = "depends_on"
    TESTED_BY = "tested_by"
    IMPLEMENTS = "implements"
    EXTENDS = "extends"


#: Where an entry comes from: a code node (kept by the asset), a fixture spec (kept by the
#: asset) or a person (``kg library register``; never removed by a sync).
Origin = Literal["node", "fixture", "registered"]


def parse_entity_type(value: str) -> EntityType:
    try:
        return EntityType(value.strip().lower())
    except ValueError:
        known = ", ".join(t.value for t in EntityType)
        raise UnknownEntityType(f"unknown entity type {value!r}; known types: {known}") from None


def parse_status(value: str) -> Status:
    try:
        return Status(value.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in Status)
        raise UnknownStatus(f"unknown status {value!r}; known statuses: {known}") from None


class CatalogEntry(BaseModel):
    """One thing the library knows about, with what is needed to find it again."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=300, pattern=r"^\S+$")
    entity_type: EntityType
    name: str = Field(min_length=1, max_length=500)
    version: str = "1"
    description: str
    keywords: tuple[str, ...] = ()
    status: Status = Status.ACTIVE
    relationships: dict[RelationKind, tuple[str, ...]] = Field(default_factory=dict)
    origin: Origin = "registered"
    author: str | None = None
    node_id: str | None = None
    #: the repository a code node's entry belongs to (None: fixtures, registered entries)
    repo: str | None = None
    path: str | None = None  # a repository-relative file, when the entry has one
    #: More text to embed and to match by keyword than the description (source code,
    #: file content); bounded by MAX_BODY_CHARS.
    body: str = ""
    deprecation_reason: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("entity_type", mode="before")
    @classmethod
    def _known_type(cls, value: object) -> object:
        return parse_entity_type(value) if isinstance(value, str) else value

    @field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value: object) -> object:
        return parse_status(value) if isinstance(value, str) else value

    @field_validator("description", mode="before")
    @classmethod
    def _non_empty_description(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                raise EmptyDescription(
                    "description is empty: say in a sentence what this entry is, so that "
                    "search can find it"
                )
            return truncate(text, MAX_DESCRIPTION_CHARS)
        return value

    @field_validator("body", mode="before")
    @classmethod
    def _bounded_body(cls, value: object) -> object:
        return truncate(value, MAX_BODY_CHARS) if isinstance(value, str) else value

    @field_validator("keywords", mode="before")
    @classmethod
    def _clean_keywords(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            seen = dict.fromkeys(str(k).strip().lower() for k in value if str(k).strip())
            return tuple(seen)[:MAX_KEYWORDS]
        return value

    @model_validator(mode="after")
    def _no_self_relationship(self) -> CatalogEntry:
        for kind, targets in self.relationships.items():
            if self.id in targets:
                raise ValueError(f"entry {self.id!r} cannot be {kind.value} itself")
        return self


SearchMode = Literal["keyword", "semantic", "hybrid"]


class SearchHit(BaseModel):
    """One result: the entry (without its ``body``: fetch the entry for that) and why it
    ranked where it did."""

    entry: CatalogEntry
    score: float  # the mode's score: ts_rank, cosine similarity, or fused RRF score
    keyword_rank: int | None = None  # 1-based rank in the keyword list, if present
    keyword_score: float | None = None
    semantic_rank: int | None = None
    similarity: float | None = None  # cosine similarity, 1 = same direction
