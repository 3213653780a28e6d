"""`world`: the demo world of the HotData fixtures, and (in dev mode) its hot reload.

The agent's state is a :class:`WorldFixtures`: the last good value of every fixture a
fixture set uses. Pages read a set's scene over REST (``GET /api/world?set=NAME``) and
learn that it changed from this agent's stream. In dev mode the fixture watcher (inotify
through watchfiles; no polling loop) reloads an edited fixture and the agent emits one
event for it: ``fixture_loaded``, ``fixture_recovered``, ``fixture_invalid`` (the last good
scene stays; the event lists the problems with their locations) or ``fixture_missing``
(the generator's default scene replaces the deleted file). Each event names the sets that
use the fixture and the new revision, so a page showing another set ignores it and a
page that already has that revision does not fetch it again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.agents.narrated import NarratedAgent
from kgents_assets.flux import FluxConfig, HolographicBuffer
from kgents_assets.hotdata.catalog import default_registry
from kgents_assets.hotdata.watcher import FixtureWatcher
from kgents_assets.hotdata.world_view import DEFAULT_SET, WorldFixtures

if TYPE_CHECKING:
    from gateway.app import GatewayContext

log = logging.getLogger(__name__)

# Short: an editor's save is one event or two a few ms apart; the page should not wait.
WATCH_DEBOUNCE_MS = 30


class WorldAgent(NarratedAgent):
    """A streaming agent that also holds the world, for the REST routes to read."""

    world: WorldFixtures
    dev: bool


def make_world_agent(mirror: HolographicBuffer, fixtures_dir: Path, *, dev: bool) -> WorldAgent:
    registry = default_registry(fixtures_dir)
    world = WorldFixtures(registry)

    async def source(agent: Any) -> None:
        # Watch first, then load: an edit made while the fixtures load is not lost. The
        # generator's first step runs up to awatch's first wait, so after one turn of the
        # loop the OS watch is in place.
        batches = FixtureWatcher(registry, debounce_ms=WATCH_DEBOUNCE_MS).changes() if dev else None
        pending = asyncio.ensure_future(anext(batches)) if batches is not None else None
        await asyncio.sleep(0)
        changes = await world.load_all()
        troubled = [c for c in changes if c.change in ("invalid", "missing")]
        agent.emit(
            "world_loaded",
            {
                "sets": list(world.sets),
                "fixtures": len(world.fixtures),
                "problems": len(troubled),
                "dev": dev,
                "directory": str(registry.root),
                "revision": world.revision,
            },
        )
        for change in troubled:
            agent.emit(change.event_type, change.event_data())
        if batches is None or pending is None:
            return
        try:
            while True:
                for name in sorted(await pending):
                    if name in world:
                        change = await world.reload(name)
                        if change.change != "unchanged":
                            agent.emit(change.event_type, change.event_data())
                pending = asyncio.ensure_future(anext(batches))
        finally:
            pending.cancel()

    async def handler(data: Any) -> Any:
        op = data.get("op") if isinstance(data, dict) else data
        if op == "scene":
            name = data.get("set", DEFAULT_SET) if isinstance(data, dict) else DEFAULT_SET
            return world.scene(name).model_dump(mode="json")
        if op == "sets":
            return world.sets
        raise ValueError(f"world understands {{'op': 'scene', 'set': NAME}} or 'sets': {data!r}")

    agent = WorldAgent(
        "world",
        handler,
        config=FluxConfig(buffer_size=16),
        mirror=mirror,
        source=source,
        description="the demo world of the HotData fixtures"
        + ("; hot-reloaded as fixture files change" if dev else ""),
    )
    agent.world = world
    agent.dev = dev
    return agent


def world_fixtures_dir(configured: Path | None, repo_root: Path) -> Path:
    """The configured directory, else the repository's ``fixtures/``, else the project's."""
    from kgents_assets.hotdata.paths import default_fixtures_dir

    if configured is not None:
        return configured
    local = repo_root / "fixtures"
    return local if local.is_dir() else default_fixtures_dir()


def make_world_agent_for(context: GatewayContext) -> WorldAgent:
    """The world agent of a gateway, from its settings."""
    settings = context.settings
    return make_world_agent(
        context.mirror("world"),
        world_fixtures_dir(settings.fixtures_dir, settings.repo_root),
        dev=settings.dev_mode,
    )
