"""The generator registry: names -> async functions that produce a fixture's content."""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from kgents_assets.hotdata.errors import HotDataError


@dataclass(frozen=True)
class GenerationContext:
    """Everything a generator may depend on. Same context, same output.

    ``entropy`` (0..1) widens the variety: more agents, more spread in activity and
    phases, longer histories. It changes *what* is generated, never makes it random.
    """

    name: str
    seed: int = 0
    entropy: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)

    def rng(self) -> random.Random:
        # Seeding with a str is stable across processes and Python versions (sha512),
        # unlike hash(), which is salted per process.
        return random.Random(f"{self.name}|{self.seed}|{self.entropy:.6f}")

    def count(self, low: int, high: int) -> int:
        """A size between ``low`` and ``high`` that grows with entropy."""
        return low + round((high - low) * self.entropy)


GeneratorFn = Callable[[GenerationContext], Coroutine[Any, Any, Any]]


class UnknownGeneratorError(HotDataError, KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no generator named {name!r}; known: {', '.join(sorted(known))}")

    def __str__(self) -> str:
        return str(self.args[0])


class GeneratorRegistry:
    """Maps generator names (by convention, fixture kinds) to async generator functions."""

    def __init__(self, generators: dict[str, GeneratorFn] | None = None) -> None:
        self._generators: dict[str, GeneratorFn] = dict(generators or {})

    def register(self, name: str) -> Callable[[GeneratorFn], GeneratorFn]:
        """Decorator: ``@registry.register("flux_states")``."""

        def decorate(fn: GeneratorFn) -> GeneratorFn:
            self.add(name, fn)
            return fn

        return decorate

    def add(self, name: str, fn: GeneratorFn) -> None:
        if name in self._generators and self._generators[name] is not fn:
            raise ValueError(f"a generator named {name!r} is already registered")
        self._generators[name] = fn

    def get(self, name: str) -> GeneratorFn:
        try:
            return self._generators[name]
        except KeyError:
            raise UnknownGeneratorError(name, list(self._generators)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._generators

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._generators))

    def copy(self) -> GeneratorRegistry:
        return GeneratorRegistry(self._generators)
