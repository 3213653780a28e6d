"""Fixture generators: a registry of async, seeded, deterministic generator functions."""

from kgents_assets.hotdata.generators.base import (
    GenerationContext,
    GeneratorFn,
    GeneratorRegistry,
    UnknownGeneratorError,
)
from kgents_assets.hotdata.generators.world import WORLD_GENERATORS

__all__ = [
    "WORLD_GENERATORS",
    "GenerationContext",
    "GeneratorFn",
    "GeneratorRegistry",
    "UnknownGeneratorError",
]
