"""Hot reload with real file edits under a real watchfiles watcher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.hotdata.registry import HotDataRegistry
from kgents_assets.hotdata.watcher import FixtureWatcher

BARRIER = "flux_states/demo"  # a registered fixture no test here edits


async def _collect(watcher: FixtureWatcher, edits: list[Callable[[], object]]) -> list[set[str]]:
    """Run the watcher, apply ``edits`` and return the batches they caused.

    No sleeps: the watcher is ready once a touch of the barrier fixture comes back, and
    every batch the edits caused has been yielded once a touch made after them comes back
    (the watcher reports in order). Batches are returned without the barrier's name.
    """
    barrier = watcher.registry.get(BARRIER).path
    stop = asyncio.Event()
    batches: list[set[str]] = []
    arrived = asyncio.Condition()

    async def consume() -> None:
        async for names in watcher.changes(stop):
            async with arrived:
                batches.append(names)
                arrived.notify_all()

    async def touch_barrier(within: float) -> bool:
        seen = len(batches)
        barrier.write_bytes(barrier.read_bytes())
        try:
            async with arrived:
                await asyncio.wait_for(
                    arrived.wait_for(lambda: any(BARRIER in b for b in batches[seen:])), within
                )
        except TimeoutError:
            return False
        return True

    task = asyncio.create_task(consume())
    for _ in range(60):  # until the watcher's inotify watches are in place
        if await touch_barrier(0.5):
            break
    else:
        raise AssertionError("the watcher never saw the barrier fixture change")
    start = len(batches)
    for edit in edits:
        result = edit()
        if asyncio.iscoroutine(result):
            await result
    assert await touch_barrier(30), "the watcher stopped reporting"
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    return [names - {BARRIER} for names in batches[start:] if names - {BARRIER}]


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

    batches = asyncio.run(_collect(watcher, [edit_garden, unrelated]))
    assert batches == [{"garden_states/main"}]
    assert [n for n in seen_sync if n != BARRIER] == ["garden_states/main"]
    assert [s for s in seen_async if s[0] != BARRIER] == [("garden_states/main", "Renamed")]


def test_a_refresh_is_seen_once_and_temp_files_are_ignored(fixtures_dir: Path) -> None:
    registry = HotDataRegistry(fixtures_dir, BUILTIN_SPECS)
    asyncio.run(registry.refresh("thought_streams/demo"))
    asyncio.run(registry.refresh(BARRIER))
    watcher = FixtureWatcher(registry, debounce_ms=100)

    async def regenerate() -> None:
        await registry.refresh("thought_streams/demo", force=True)
        await registry.refresh("polynomial_states/demo")  # a brand-new file

    batches = asyncio.run(_collect(watcher, [regenerate]))
    assert set().union(*batches) == {"thought_streams/demo", "polynomial_states/demo"}
    assert sum(len(b) for b in batches) == 2
