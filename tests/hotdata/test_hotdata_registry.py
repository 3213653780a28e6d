from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from kgents_assets.hotdata.catalog import BUILTIN_SPECS, extra_specs
from kgents_assets.hotdata.generators import GenerationContext, GeneratorRegistry
from kgents_assets.hotdata.registry import FixtureState, HotDataRegistry
from kgents_assets.hotdata.spec import FixtureSpec

AGENT = "kgents_assets.hotdata.models:AgentSnapshot"


def test_status_listing_follows_the_files(registry: HotDataRegistry) -> None:
    assert registry.list_all() == [s.name for s in BUILTIN_SPECS]
    assert registry.list_missing() == registry.list_all()
    assert registry.list_stale() == registry.list_all()  # missing ones need a refresh too

    outcome = asyncio.run(registry.refresh("flux_states/demo"))
    assert outcome.written
    status = registry.get_status("flux_states/demo")
    assert status.state is FixtureState.FRESH
    assert status.ttl_seconds == 86400 and status.size == outcome.size
    assert status.to_dict()["state"] == "FRESH"

    path = registry.get("flux_states/demo").path
    old = time.time() - 2 * 86400
    os.utime(path, (old, old))
    assert registry.get_status("flux_states/demo").state is FixtureState.STALE
    assert "flux_states/demo" in registry.list_stale()
    assert "flux_states/demo" not in registry.list_missing()


def test_refresh_all_stale_refreshes_only_what_needs_it(registry: HotDataRegistry) -> None:
    asyncio.run(registry.refresh("garden_states/main"))
    reports = asyncio.run(registry.refresh_all_stale())
    names = [r.name for r in reports]
    assert "garden_states/main" not in names
    assert len(names) == len(BUILTIN_SPECS) - 1 and all(r.written for r in reports)
    assert registry.list_stale() == []
    assert asyncio.run(registry.refresh_all_stale()) == []


def test_one_failing_generator_does_not_stop_the_others(fixtures_dir: Path) -> None:
    generators = GeneratorRegistry()

    @generators.register("ok")
    async def ok(ctx: GenerationContext) -> dict[str, str]:
        return {"id": ctx.name, "name": "ok", "phase": "ACTIVE"}

    @generators.register("broken")
    async def broken(ctx: GenerationContext) -> dict[str, str]:
        raise RuntimeError("boom")

    registry = HotDataRegistry(
        fixtures_dir,
        [
            FixtureSpec("test/a", AGENT, timedelta(hours=1), generator="ok"),
            FixtureSpec("test/b", AGENT, timedelta(hours=1), generator="broken"),
            FixtureSpec("test/c", AGENT, timedelta(hours=1), generator="missing_one"),
        ],
        generators=generators,
    )
    reports = {r.name: r for r in asyncio.run(registry.refresh_all_stale())}
    assert reports["test/a"].written and reports["test/a"].error is None
    assert reports["test/b"].error is not None and "RuntimeError: boom" in reports["test/b"].error
    assert reports["test/c"].error == "no generator named 'missing_one'; known: broken, ok"
    assert registry.list_missing() == ["test/b", "test/c"]


def test_duplicate_and_invalid_specs_are_refused(fixtures_dir: Path) -> None:
    registry = HotDataRegistry(fixtures_dir, [FixtureSpec("test/a", AGENT)])
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(FixtureSpec("test/a", AGENT))
    with pytest.raises(ValueError, match="ttl must be positive"):
        FixtureSpec("test/b", AGENT, timedelta(0))
    with pytest.raises(ValueError, match="entropy must be within"):
        FixtureSpec("test/b", AGENT, entropy=2.0)


EXTRA = [FixtureSpec("test/extra_agent", AGENT, None, generator="agent_snapshots", seed=5)]


def test_projects_add_fixtures_by_reference(fixtures_dir: Path) -> None:
    specs = extra_specs(f"{__name__}:EXTRA")
    assert [s.name for s in specs] == ["test/extra_agent"]
    with pytest.raises(TypeError, match="not a FixtureSpec"):
        extra_specs("kgents_assets.hotdata.catalog:SPECS_ENV")
