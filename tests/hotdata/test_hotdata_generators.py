from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys

import pytest

from kgents_assets.hotdata.catalog import BUILTIN_SPECS, default_registry
from kgents_assets.hotdata.generators import WORLD_GENERATORS, GenerationContext
from kgents_assets.hotdata.models import FluxState, PolynomialState, ThoughtStream
from kgents_assets.hotdata.paths import PROJECT_FIXTURES_DIR
from kgents_assets.hotdata.registry import HotDataRegistry

KINDS = [
    "agent_snapshots",
    "flux_states",
    "garden_states",
    "polynomial_states",
    "yield_turns",
    "thought_streams",
]


def generate(kind: str, seed: int = 0, entropy: float = 0.5, name: str = "x/y") -> str:
    value = asyncio.run(WORLD_GENERATORS.get(kind)(GenerationContext(name, seed, entropy)))
    text: str = value.to_json()
    return text


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_deterministic_generator(kind: str) -> None:
    assert generate(kind, seed=3) == generate(kind, seed=3)
    assert generate(kind, seed=3) != generate(kind, seed=4)


def test_same_seed_same_bytes_across_processes() -> None:
    code = (
        "from tests.hotdata.test_hotdata_generators import generate; "
        "print(generate('flux_states', seed=9), end='')"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert other == generate("flux_states", seed=9)


def test_entropy_widens_the_world() -> None:
    calm = FluxState.from_json(generate("flux_states", entropy=0.0))
    wild = FluxState.from_json(generate("flux_states", entropy=1.0))
    assert len(calm.agents) < len(wild.agents)
    assert len({a.phase for a in wild.agents.values()}) > 1
    long = ThoughtStream.from_json(generate("thought_streams", entropy=1.0))
    assert len(long) == 30


def test_generated_worlds_are_coherent() -> None:
    flux = FluxState.from_json(generate("flux_states", seed=2, entropy=1.0))
    cells = {(a.grid_x, a.grid_y) for a in flux.agents.values()}
    assert len(cells) == len(flux.agents)  # one agent per cell
    for agent in flux.agents.values():
        assert set(agent.connections) <= set(flux.agents) - {agent.id}
    poly = PolynomialState.from_json(generate("polynomial_states", seed=5))
    hist = poly.transition_history
    assert all(a[1] == b[0] for a, b in itertools.pairwise(hist))
    assert hist[-1][1] == poly.current_mode
    stream = ThoughtStream.from_json(generate("thought_streams", seed=1))
    times = [t.timestamp for t in stream.root]
    assert times == sorted(times)


def test_committed_fixtures_are_present_and_valid() -> None:
    registry = default_registry(PROJECT_FIXTURES_DIR)
    for kind in [*KINDS, "test"]:
        assert (PROJECT_FIXTURES_DIR / kind).is_dir()
    assert (PROJECT_FIXTURES_DIR / "README.md").is_file()
    for name in registry.list_all():
        registry.get(name).load()  # raises with the location of any problem


def test_committed_fixtures_match_their_generators(registry: HotDataRegistry) -> None:
    """A committed fixture is exactly what its generator writes (regenerate if this fails)."""
    committed = default_registry(PROJECT_FIXTURES_DIR)
    for spec in BUILTIN_SPECS:
        _, data = asyncio.run(registry.render(spec.name))
        assert committed.get(spec.name).path.read_bytes() == data, spec.name
