"""FixtureSpec: what a fixture is (name, schema, TTL, generator), independent of where."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kgents_assets.hotdata.names import validate_fixture_name

# ``"package.module:Attr"``: lets the fixture table stay importable without importing
# pydantic models, which keeps `kg fixture list` fast.
SchemaRef = type[Any] | str


def resolve_ref(ref: Any) -> Any:
    """Import ``"module:attr"`` references; anything else is returned as is."""
    if not isinstance(ref, str):
        return ref
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"reference {ref!r} must look like 'package.module:Name'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class FixtureSpec:
    """A registered fixture.

    ``generator`` names an entry of the generator registry (by default the fixture's kind,
    i.e. its first path segment). ``seed`` and ``entropy`` make the output reproducible:
    same seed and entropy, same bytes. ``llm_prompt`` lets an LLM write the fixture when an
    LLM is configured; the seeded generator is used otherwise.
    """

    name: str
    schema: SchemaRef
    ttl: timedelta | None = None
    generator: str | None = None
    seed: int = 0
    entropy: float = 0.5
    description: str = ""
    llm_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_fixture_name(self.name)
        if self.ttl is not None and self.ttl <= timedelta(0):
            raise ValueError(f"fixture {self.name!r}: ttl must be positive or None (forever)")
        if not 0.0 <= self.entropy <= 1.0:
            raise ValueError(f"fixture {self.name!r}: entropy must be within 0..1")

    @property
    def kind(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def generator_name(self) -> str:
        return self.generator or self.kind

    def resolved_schema(self) -> type[Any]:
        schema: type[Any] = resolve_ref(self.schema)
        return schema
