"""HotData fixture specs as catalog entries (type ``spec``, origin ``fixture``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kgents_assets.catalog.models import CatalogEntry, EntityType

if TYPE_CHECKING:
    from kgents_assets.hotdata.spec import FixtureSpec


def fixture_entry_id(name: str) -> str:
    return f"fixture:{name}"


def fixture_entry(spec: FixtureSpec) -> CatalogEntry:
    schema = (
        str(spec.schema).rsplit(":", 1)[-1]
        if isinstance(spec.schema, str)
        else getattr(spec.schema, "__name__", str(spec.schema))
    )
    kind = spec.name.split("/", 1)[0]
    description = spec.description.strip() or f"HotData fixture {spec.name} of {schema} records."
    ttl = spec.ttl.total_seconds() if spec.ttl is not None else None
    return CatalogEntry(
        id=fixture_entry_id(spec.name),
        entity_type=EntityType.SPEC,
        name=spec.name,
        description=description,
        keywords=("fixture", "hotdata", kind, schema),
        origin="fixture",
        path=f"fixtures/{spec.name}.json",
        body=f"HotData fixture {spec.name}: {schema} records, kind {kind}.",
        metadata={
            "schema": str(spec.schema),
            "ttl_seconds": ttl,
            "seed": spec.seed,
            "entropy": spec.entropy,
            "params": {k: str(v) for k, v in spec.params.items()},
        },
    )


def fixture_entries(specs: Iterable[FixtureSpec]) -> list[CatalogEntry]:
    return [fixture_entry(spec) for spec in specs]
