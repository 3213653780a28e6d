"""Hot reload with real file edits under a real watchfiles watcher."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.hotdata.registry import HotDataRegistry
from kgents_assets.hotdata.watcher import FixtureWatcher


async def _collect(watcher: FixtureWatcher, edits: list[tuple[float, object]]) -> list[set[str]]:
    """Run the watcher, apply ``edits`` (delay, callable) and return the batches seen."""
    stop = asyncio.Event()
    batches: list[set[str]] = []

    async def consume() -> None:
        async for names in watcher.changes(stop):
            batches.append(names)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.4)  # let the watcher start (inotify registration)
    for delay, edit in edits:
        result = edit()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            await result
        await asyncio.sleep(delay)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    return batches


def test_edits_yield_fixture_names_and_call_callbacks(fixtures_dir: Path) -> None:
    registry = HotDataRegistry(fixtures_dir, BUILTIN_SPECS)
    asyncio.run(registry.refresh("flux_states/demo"))
    asyncio.run(registry.refresh("garden_states/main"))
    watcher = FixtureWatcher(registry, debounce_ms=50)
    seen_sync: list[str] = []
    seen_async: list[tuple[str, str]] = []
    watcher.on_change(seen_sync.append)

    @watcher.on_change
    async def reload(name: str) -> None:
        # What the gateway does: read the new content right away.
        seen_async.append((name, registry.get(name).load_or_default(None).name))  # type: ignore[union-attr]

    @watcher.on_change
    def broken(name: str) -> None:
        raise RuntimeError("a broken subscriber must not stop the others")

    garden = registry.get("garden_states/main")

    def edit_garden() -> None:
        value = garden.load()
        garden.save(value.model_copy(update={"name": "Renamed"}))

    def unrelated() -> None:
        (fixtures_dir / "notes.txt").write_text("not a fixture")
        (fixtures_dir / "flux_states" / "unregistered.json").write_text("{}")

    batches = asyncio.run(_collect(watcher, [(0.5, edit_garden), (0.5, unrelated)]))
    assert batches == [{"garden_states/main"}]
    assert seen_sync == ["garden_states/main"]
    assert seen_async == [("garden_states/main", "Renamed")]


def test_a_refresh_is_seen_once_and_temp_files_are_ignored(fixtures_dir: Path) -> None:
    registry = HotDataRegistry(fixtures_dir, BUILTIN_SPECS)
    asyncio.run(registry.refresh("thought_streams/demo"))
    watcher = FixtureWatcher(registry, debounce_ms=100)

    async def regenerate() -> None:
        await registry.refresh("thought_streams/demo", force=True)
        await registry.refresh("polynomial_states/demo")  # a brand-new file

    batches = asyncio.run(_collect(watcher, [(0.6, regenerate)]))
    assert set().union(*batches) == {"thought_streams/demo", "polynomial_states/demo"}
    assert sum(len(b) for b in batches) == 2
