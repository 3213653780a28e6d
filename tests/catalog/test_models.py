"""CatalogEntry refuses what cannot be searched and bounds what is too big."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kgents_assets.catalog.models import (
    MAX_BODY_CHARS,
    MAX_DESCRIPTION_CHARS,
    CatalogEntry,
    EntityType,
    RelationKind,
    Status,
    parse_entity_type,
)
from kgents_assets.catalog.text import TRUNCATION_MARK


def entry(**fields: object) -> CatalogEntry:
    base: dict[str, object] = {
        "id": "spec:x",
        "entity_type": "spec",
        "name": "x",
        "description": "An x.",
    }
    return CatalogEntry(**(base | fields))  # type: ignore[arg-type]


def test_empty_description_is_rejected_with_a_reason() -> None:
    for blank in ("", "   \n\t"):
        with pytest.raises(ValidationError, match="description is empty"):
            entry(description=blank)


def test_unknown_type_and_status_name_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown entity type 'widget'.*agent, contract"):
        entry(entity_type="widget")
    with pytest.raises(ValidationError, match="unknown status 'gone'"):
        entry(status="gone")
    assert parse_entity_type(" Function ") is EntityType.FUNCTION
    assert entry(status="DRAFT").status is Status.DRAFT


def test_enormous_text_is_truncated_deterministically() -> None:
    huge = ("word " * 100_000).strip()
    a, b = entry(description=huge, body=huge), entry(description=huge, body=huge)
    assert a.description == b.description and a.body == b.body
    assert a.description.endswith(TRUNCATION_MARK)
    assert len(a.description) <= MAX_DESCRIPTION_CHARS + 1
    assert len(a.body) <= MAX_BODY_CHARS + 1
    assert not a.body.removesuffix(TRUNCATION_MARK).endswith(" wor")  # cut at a word boundary


def test_keywords_are_normalised_and_deduplicated() -> None:
    assert entry(keywords=["YAML", " yaml", "", "Config"]).keywords == ("yaml", "config")


def test_an_entry_cannot_relate_to_itself() -> None:
    with pytest.raises(ValidationError, match="cannot be successor_to itself"):
        entry(relationships={RelationKind.SUCCESSOR_TO: ("spec:x",)})


def test_ids_have_no_whitespace() -> None:
    with pytest.raises(ValidationError):
        entry(id="spec: x")
