"""pytest plugin (entry point ``kgents_hotdata``): rich demo-world data for tests.

Fixtures load the pre-computed files under the fixtures directory; when a file is missing
or invalid they fall back to generating the same data in memory with its seeded generator,
so tests never depend on someone having run `kg fixture refresh`.

    def test_grid(rich_flux_state):
        assert rich_flux_state.grid_width == 8
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kgents_assets.hotdata.models import (
        AgentSnapshot,
        FluxState,
        GardenSnapshot,
        PolynomialState,
        ThoughtStream,
        YieldTurnLog,
    )
    from kgents_assets.hotdata.registry import HotDataRegistry


def load_fixture(registry: HotDataRegistry, name: str) -> Any:
    """The fixture's file content, or the same data generated in memory if unavailable."""
    hotdata = registry.get(name)
    sentinel = object()
    value = hotdata.load_or_default(sentinel)
    if value is not sentinel:
        return value
    generate = registry.generator_for(name)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        produced: Any = asyncio.run(generate())
    else:  # called from an async test: run the generator on a loop of its own
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            produced = pool.submit(asyncio.run, generate()).result()
    model, _ = hotdata.render(produced, source="generated fallback")
    return model


@pytest.fixture(scope="session")
def hotdata_registry() -> HotDataRegistry:
    """The registry of every fixture in the configured fixtures directory."""
    from kgents_assets.hotdata.catalog import default_registry

    return default_registry()


@pytest.fixture
def hotdata(hotdata_registry: HotDataRegistry) -> Callable[[str], Any]:
    """``hotdata("flux_states/crowded")`` -> the loaded (or generated) fixture."""
    return lambda name: load_fixture(hotdata_registry, name)


@pytest.fixture
def rich_agent_snapshot(hotdata_registry: HotDataRegistry) -> AgentSnapshot:
    value: AgentSnapshot = load_fixture(hotdata_registry, "agent_snapshots/demo")
    return value


@pytest.fixture
def rich_flux_state(hotdata_registry: HotDataRegistry) -> FluxState:
    value: FluxState = load_fixture(hotdata_registry, "flux_states/demo")
    return value


@pytest.fixture
def rich_garden_snapshot(hotdata_registry: HotDataRegistry) -> GardenSnapshot:
    value: GardenSnapshot = load_fixture(hotdata_registry, "garden_states/main")
    return value


@pytest.fixture
def rich_polynomial_state(hotdata_registry: HotDataRegistry) -> PolynomialState:
    value: PolynomialState = load_fixture(hotdata_registry, "polynomial_states/demo")
    return value


@pytest.fixture
def rich_yield_turns(hotdata_registry: HotDataRegistry) -> YieldTurnLog:
    value: YieldTurnLog = load_fixture(hotdata_registry, "yield_turns/demo")
    return value


@pytest.fixture
def rich_thought_stream(hotdata_registry: HotDataRegistry) -> ThoughtStream:
    value: ThoughtStream = load_fixture(hotdata_registry, "thought_streams/demo")
    return value
