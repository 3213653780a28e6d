"""Hot reload: watch the fixtures directory and report which fixtures changed.

A running process (the gateway, a notebook) subscribes with callbacks and sees an edited
or regenerated fixture without a restart. Atomic replaces show up once, as the target file:
temporary files and lock files start with a dot and are ignored.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles

if TYPE_CHECKING:
    import asyncio

    from kgents_assets.hotdata.registry import HotDataRegistry

logger = logging.getLogger(__name__)

ChangeCallback = Callable[[str], Awaitable[None] | None]


class FixtureWatcher:
    """Yields sets of changed fixture names and calls every registered callback per name."""

    def __init__(self, registry: HotDataRegistry, *, debounce_ms: int = 50) -> None:
        self.registry = registry
        self.debounce_ms = debounce_ms
        self._callbacks: list[ChangeCallback] = []
        self._by_path = {registry.get(name).path.resolve(): name for name in registry.list_all()}

    def on_change(self, callback: ChangeCallback) -> ChangeCallback:
        """Register ``callback(name)`` (sync or async); usable as a decorator."""
        self._callbacks.append(callback)
        return callback

    def fixture_name(self, path: str | Path) -> str | None:
        """The registered fixture stored at ``path``, if any."""
        return self._by_path.get(Path(path).resolve())

    def _relevant(self, _change: watchfiles.Change, path: str) -> bool:
        name = Path(path).name
        return name.endswith(".json") and not name.startswith(".")

    async def changes(self, stop_event: asyncio.Event | None = None) -> AsyncIterator[set[str]]:
        """Each batch of file events as the set of registered fixtures they touched."""
        root = self.registry.root
        root.mkdir(parents=True, exist_ok=True)
        # Every fixture's directory exists before the watch starts. A fixture generated into
        # a directory made after it is written before the watcher has a watch on that
        # directory (inotify adds it when told of the directory) and was missed under load.
        for path in self._by_path:
            with contextlib.suppress(OSError):  # read-only fixtures (an image): nothing new
                path.parent.mkdir(parents=True, exist_ok=True)
        async for batch in watchfiles.awatch(
            root,
            watch_filter=self._relevant,
            debounce=self.debounce_ms,
            step=10,
            stop_event=stop_event,
            recursive=True,
        ):
            names = {n for _, path in batch if (n := self.fixture_name(path)) is not None}
            if not names:
                continue
            for name in sorted(names):
                await self._notify(name)
            yield names

    async def run(self, stop_event: asyncio.Event) -> None:
        """Watch until ``stop_event`` is set, only for the callbacks' sake."""
        async for _ in self.changes(stop_event):
            pass

    async def _notify(self, name: str) -> None:
        for callback in self._callbacks:
            try:
                result = callback(name)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one broken subscriber must not stop reloads for others
                logger.exception("hot-reload callback %r failed for %s", callback, name)
