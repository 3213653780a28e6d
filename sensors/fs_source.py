"""The filesystem as an event source (watchfiles: inotify on Linux, FSEvents on macOS).

One recursive watch on the repository (plus the git directory when it lives elsewhere).
A change becomes a file event when discovery would care about the path (a supported
language, not ignored); a change under the git directory that can mean "HEAD moved" is
handed to the git watcher instead. Cases the OS reports coarsely are made exact here:

- a directory moved *into* the tree arrives as one event: its files are listed;
- a directory moved *out* or removed, or a ``.gitignore`` edit, changes what is in the
  model in ways one event cannot list: those ask for a rescan.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import Change
from watchfiles._rust_notify import RustNotify

from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.languages import language_for_path
from sensors.events import Event, FileCreated, FileDeleted, FileModified, RescanRequested
from sensors.git_source import GitRepo

SOURCE = "filesystem"
#: watchfiles' grouping of raw changes (see ``RepositoryWatch.run``)
BATCH_MS = 40
STEP_MS = 20


class FileEventTranslator:
    """watchfiles' (Change, absolute path) pairs -> events, plus "git moved" signals."""

    def __init__(self, root: Path, git: GitRepo | None = None) -> None:
        self.root = root.resolve()
        self.git = git
        self.rules = IgnoreRules.for_repo(self.root)
        self._git_dir = git.git_dir.resolve() if git is not None else self.root / ".git"

    def wants(self, change: Change, abs_path: str) -> bool:
        """The watchfiles filter: runs for every raw change, so it stays cheap."""
        path = Path(abs_path)
        if path.is_relative_to(self._git_dir):
            return self.git is not None and self.git.is_trigger(abs_path)
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return False
        if rel.endswith(".gitignore"):
            return not self.rules.is_ignored(rel)
        if language_for_path(rel) is None:
            # Could be a directory: added ones are listed, removed ones mean a rescan.
            return change != Change.modified and not self.rules.is_ignored(rel, is_dir=True)
        return not self.rules.is_ignored(rel)

    def translate(self, changes: Iterable[tuple[Change, str]]) -> tuple[list[Event], bool]:
        """Events for a batch of changes, and whether git may have moved.

        A batch is a *set*: the order of a file's create/modify/delete inside it is lost,
        so the net event is decided from the kinds seen plus whether the file exists now.
        """
        events: list[Event] = []
        git_moved = False
        by_path: dict[str, set[Change]] = {}
        for change, abs_path in changes:
            by_path.setdefault(abs_path, set()).add(change)
        for abs_path in sorted(by_path):
            kinds = by_path[abs_path]
            path = Path(abs_path)
            if path.is_relative_to(self._git_dir):
                git_moved = True
                continue
            rel = path.relative_to(self.root).as_posix()
            if rel.endswith(".gitignore"):
                self.rules = IgnoreRules.for_repo(self.root)  # patterns changed: reload
                events.append(RescanRequested(reason=f"{rel} changed", source=SOURCE))
                continue
            if language_for_path(rel) is None:
                for change in sorted(kinds):
                    events.extend(self._directory_change(change, path, rel))
                continue
            events.append(_net_file_event(rel, kinds, path.exists()))
        return events, git_moved

    def _directory_change(self, change: Change, path: Path, rel: str) -> list[Event]:
        if change == Change.added and path.is_dir():
            return [FileCreated(path=p, source=SOURCE) for p in self._source_files_under(rel)]
        if change == Change.deleted:
            # We cannot tell a removed directory from a removed extension-less file
            # without state; a rescan costs a stat walk and is always right.
            return [RescanRequested(reason=f"{rel} removed or moved away", source=SOURCE)]
        return []

    def _source_files_under(self, rel_dir: str) -> list[str]:
        """Files discovery would model under a directory that appeared in one piece."""
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root / rel_dir):
            base = Path(dirpath).relative_to(self.root).as_posix()
            dirnames[:] = [
                d for d in dirnames if not self.rules.is_ignored(f"{base}/{d}", is_dir=True)
            ]
            for name in filenames:
                rel = f"{base}/{name}"
                if language_for_path(rel) is not None and not self.rules.is_ignored(rel):
                    found.append(rel)
        return sorted(found)


def _net_file_event(rel: str, kinds: set[Change], exists: bool) -> Event:
    if exists:
        if Change.added in kinds and Change.deleted not in kinds:
            return FileCreated(path=rel, source=SOURCE)
        return FileModified(path=rel, source=SOURCE)
    # Gone now; if it was also added in this batch it came and went unseen.
    return FileDeleted(path=rel, transient=Change.added in kinds, source=SOURCE)


class RepositoryWatch:
    """The OS-level watch on a repository; watching starts in the constructor.

    Built on watchfiles' ``RustNotify`` rather than ``watchfiles.watch`` because the
    constructor returns only once the inotify watches are in place: a caller that scans
    for missed changes afterwards has no gap in which a save goes unseen.
    """

    def __init__(self, translator: FileEventTranslator) -> None:
        self.translator = translator
        paths = [str(translator.root)]
        git_dir = translator._git_dir
        if translator.git is not None and not git_dir.is_relative_to(translator.root):
            paths.append(str(git_dir))  # a worktree's git directory lives elsewhere
        self._notify = RustNotify(paths, False, False, 300, True, True)

    def run(
        self,
        on_events: Callable[[list[Event], bool], None],
        stop: threading.Event,
        *,
        batch_ms: int = BATCH_MS,
        step_ms: int = STEP_MS,
    ) -> None:
        """Block, calling ``on_events(events, git_moved)`` per batch, until ``stop`` is set.

        The wait happens in Rust on inotify; with nothing changing, no Python runs except
        watchfiles' stop-flag check every ``step_ms``. A batch is handed over after one
        quiet step, or ``batch_ms`` after its first change at the latest: the daemon's
        debouncer does the real grouping, so this layer only has to be short.
        """
        wants = self.translator.wants
        try:
            while not stop.is_set():
                raw = self._notify.watch(batch_ms, step_ms, 0, stop)
                if raw in ("stop", "signal"):
                    return
                if raw == "timeout" or isinstance(raw, str):
                    continue
                changes = [(Change(c), p) for c, p in raw if wants(Change(c), p)]
                if not changes:
                    continue
                try:
                    events, git_moved = self.translator.translate(changes)
                except Exception as exc:
                    # Never lose a batch to a bug or an odd file: re-detect instead.
                    events = [
                        RescanRequested(
                            reason=f"could not interpret {len(changes)} changes: {exc!r}",
                            source=SOURCE,
                        )
                    ]
                    git_moved = True
                if events or git_moved:
                    on_events(events, git_moved)
        finally:
            self._notify.close()
