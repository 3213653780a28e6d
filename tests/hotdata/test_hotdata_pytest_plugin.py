"""The kgents_hotdata pytest plugin, used as any test of the project would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.hotdata.models import AgentSnapshot, FluxState, ThoughtStream
from kgents_assets.hotdata.paths import PROJECT_FIXTURES_DIR
from kgents_assets.hotdata.pytest_plugin import load_fixture
from kgents_assets.hotdata.registry import HotDataRegistry


def test_rich_fixtures_come_from_the_committed_files(
    rich_agent_snapshot: AgentSnapshot, rich_flux_state: FluxState
) -> None:
    committed = HotDataRegistry(PROJECT_FIXTURES_DIR, BUILTIN_SPECS)
    assert rich_agent_snapshot == committed.get("agent_snapshots/demo").load()
    assert rich_flux_state == committed.get("flux_states/demo").load()
    assert rich_flux_state.grid_width == 8 and rich_flux_state.focused_id in rich_flux_state.agents


def test_named_fixtures_by_factory(hotdata: Callable[[str], Any]) -> None:
    crowded = hotdata("flux_states/crowded")
    assert isinstance(crowded, FluxState) and len(crowded.agents) == 24


def test_missing_files_fall_back_to_generated_data(fixtures_dir: Path) -> None:
    empty = HotDataRegistry(fixtures_dir, BUILTIN_SPECS)
    committed = HotDataRegistry(PROJECT_FIXTURES_DIR, BUILTIN_SPECS)
    fallback = load_fixture(empty, "thought_streams/demo")
    assert isinstance(fallback, ThoughtStream)
    assert fallback == committed.get("thought_streams/demo").load()
    assert not empty.get("thought_streams/demo").exists()  # the fallback writes nothing


def test_broken_files_fall_back_too(fixtures_dir: Path) -> None:
    registry = HotDataRegistry(fixtures_dir, BUILTIN_SPECS)
    path = registry.get("agent_snapshots/demo").path
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    assert isinstance(load_fixture(registry, "agent_snapshots/demo"), AgentSnapshot)


async def _inside_a_loop(registry: HotDataRegistry) -> Any:
    return load_fixture(registry, "garden_states/main")


def test_fallback_works_from_async_code(fixtures_dir: Path) -> None:
    import asyncio

    registry = HotDataRegistry(fixtures_dir, BUILTIN_SPECS)
    assert asyncio.run(_inside_a_loop(registry)).name
