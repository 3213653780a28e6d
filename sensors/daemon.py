"""``kg hub --watch``: the event-driven daemon. It does not poll; it listens.

    inotify (watchfiles) ──► translator ──► EventBus ──► Debouncer ──► change set
    git dir changes ───────► GitWatcher ──┘                              │
                                                   ActionExecutor (trust) ▼
              hub stages in-process (markdown on disk) ──► impact, catalog, Dagster record

- The main thread sleeps in ``EventBus.get`` until an event arrives or the open change
  set's quiet period ends: no timer does work while nothing changes.
- A burst (a checkout of thousands of files) merges into one change set; events that
  arrive during a refresh form the next one. Nothing is dropped: an overflowing bus turns
  into a rescan, a failed refresh makes the next one a rescan, and every start begins
  with a catch-up refresh that detects whatever changed while no daemon was watching
  (including a daemon killed mid-refresh: the pipeline's work marks finish what it left).
- A save's markdown does not wait for Dagster: see ``sensors.watch_refresh`` for why the
  refresh calls the hub's stages itself and records them in the instance afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from kgents_assets.hub.refresh_files import indexed_paths
from sensors.bus import DEFAULT_CAPACITY, BusClosed, EventBus
from sensors.debounce import DEFAULT_MAX_WAIT_S, DEFAULT_QUIET_S, ChangeSet, Debouncer
from sensors.events import Event, RescanRequested
from sensors.fs_source import FileEventTranslator, RepositoryWatch
from sensors.git_source import GitError, GitRepo, GitWatcher
from sensors.journal import EventJournal
from sensors.lock import DaemonAlreadyRunning, DaemonLock
from sensors.reused_store import ReusingStore
from sensors.run_spec import listed_paths, run_tags
from sensors.trust import DEFAULT_TRUST, Action, ActionExecutor, ActionStatus, TrustLevel
from sensors.watch_refresh import WatchRefresh, configured_refresh

if TYPE_CHECKING:
    from rich.console import Console

    from kgents_assets.store import Store

TRIGGER = "kg-hub-watch"
TRUST_ENV = "KGENTS_TRUST_LEVEL"
MATERIALIZE = "materialize_code"
#: An editor's save is a few events within milliseconds (write, chmod, rename) that the
#: file watcher already hands over together; a short quiet period after them closes the
#: change set, and the debouncer's max wait bounds a trickle that never goes quiet.
DEFAULT_DEBOUNCE_MS = round(DEFAULT_QUIET_S * 1000)

#: (is a new change waiting?) -> (the one-line summary, problems to show)
FollowUp = Callable[[Callable[[], bool]], tuple[str, list[str]]]


@dataclass(frozen=True)
class RunOutcome:
    run_id: str | None
    success: bool
    summary: str
    #: work after the markdown is on disk (impact, catalog, the record in Dagster)
    follow_up: FollowUp | None = None


#: (paths or None for "detect yourself", run tags) -> outcome
Refresh = Callable[[Sequence[str] | None, Mapping[str, str]], RunOutcome]


@dataclass
class DaemonStats:
    change_sets: int = 0
    runs: int = 0
    failed_runs: int = 0
    events: int = 0
    run_seconds: list[float] = field(default_factory=list)
    #: first event of a change set -> its refresh returned (markdown on disk)
    markdown_seconds: list[float] = field(default_factory=list)


class WatchDaemon:
    def __init__(
        self,
        root: Path,
        *,
        store: Store,
        refresh: Refresh,
        repo: str | None = None,
        status: Callable[[str], None] = print,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        trust_level: int = DEFAULT_TRUST,
        bus_capacity: int = DEFAULT_CAPACITY,
        catch_up: bool = True,
    ) -> None:
        self.root = root.resolve()
        #: the repository's registered name (its partition); None: journal rows carry none
        self.repo = repo
        self.refresh = refresh
        self.status = status
        self.catch_up = catch_up
        self.bus = EventBus(bus_capacity)
        self.debouncer = Debouncer(quiet_s=debounce_ms / 1000, max_wait_s=max_wait_s)
        self.journal = EventJournal(store)
        self.executor = ActionExecutor(
            store, {MATERIALIZE: self._perform_refresh}, trust_level=trust_level, repo=repo
        )
        self.stats = DaemonStats()
        self._stop = threading.Event()
        self._rescan_next = False
        #: when the change set being refreshed saw its first event
        self._opened_at: float | None = None
        self.failure: str | None = None
        self.git: GitWatcher | None = None
        self.git_problem: str | None = None
        try:
            self.git = GitWatcher(GitRepo.open(self.root), source="git")
        except GitError as exc:
            self.git_problem = str(exc)
        self.translator = FileEventTranslator(self.root, self.git.repo if self.git else None)

    # --- threads -------------------------------------------------------------------

    def _on_fs(self, events: list[Event], git_moved: bool) -> None:
        if git_moved and self.git is not None:
            try:
                events = [*self.git.check(), *events]
            except GitError as exc:
                self.status(f"[yellow]git:[/yellow] {exc}")
        if events:
            self.bus.put_many(events)

    def stop(self) -> None:
        self._stop.set()
        self.bus.close()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, ready: threading.Event | None = None) -> None:
        """Watch until ``stop()``; ``ready`` is set once the OS watch is in place."""
        watch = RepositoryWatch(self.translator)  # watches are live when this returns

        def watch_files() -> None:
            try:
                watch.run(self._on_fs, self._stop)
            except BaseException as exc:
                self.failure = f"the file watcher stopped: {type(exc).__name__}: {exc}"
                self.status(f"[red]{self.failure}[/red]")
            finally:
                if not self.stopping:  # a daemon that cannot see changes must not linger
                    self.failure = self.failure or "the file watcher stopped unexpectedly"
                    self.stop()

        thread = threading.Thread(target=watch_files, name="kg-fs-watch", daemon=True)
        thread.start()
        where = self.git.state.describe() if self.git else "not a git repository"
        self.status(
            f"watching [bold]{self.root}[/bold] ({where}); trust level "
            f"{int(self.executor.trust_level)}; Ctrl-C stops"
        )
        if self.git_problem:
            self.status(f"[yellow]{self.git_problem}[/yellow]")
        if self.catch_up:
            self.bus.put(
                RescanRequested(
                    reason="start: catch up with changes made while no daemon was watching",
                    source="daemon",
                )
            )
        if ready is not None:
            ready.set()
        try:
            self._loop()
        finally:
            self._stop.set()
            thread.join(timeout=5)

    def _loop(self) -> None:
        debouncer = self.debouncer
        while not self.stopping:
            deadline = debouncer.deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = self.bus.get(timeout)
            except BusClosed:
                break
            if event is not None:
                debouncer.add(event)
                for more in self.bus.drain():
                    debouncer.add(more)
            if debouncer.ready():
                change_set = debouncer.flush()
                if change_set is not None:
                    self._process(change_set)
        if debouncer.pending:
            self.status("stopped with changes pending: the next start picks them up")

    # --- one change set --------------------------------------------------------------

    def _process(self, cs: ChangeSet) -> None:
        self.stats.change_sets += 1
        if self.executor.trust_level == TrustLevel.PROPOSE:
            self.executor.settle()  # carry out what a human approved since last time
        self.stats.events += cs.raw_count
        self.journal.append_many(cs.events, repo=self.repo)
        rescan = cs.rescan or self._rescan_next
        paths = listed_paths(cs.paths, rescan)
        if paths is not None and cs.transient:
            paths = self._without_unknown_transients(paths, cs.transient)
            if not paths:
                return  # only files that came and went: nothing in the model changed
        git_event = cs.git_event
        tags = run_tags(
            TRIGGER,
            priority=cs.priority,
            change_set=cs.run_key,
            n_paths=len(paths) if paths is not None else None,
            event=git_event,
        )
        what = _describe(cs, paths)
        action = Action(
            name=MATERIALIZE,
            description=f"refresh the code model ({what})",
            writes=(".agentfs/",),
            payload={"paths": paths, "tags": tags},
        )
        started = time.monotonic()
        self._opened_at = cs.opened_at
        try:
            record = self.executor.execute(action)
        finally:
            self._opened_at = None
        elapsed = time.monotonic() - started
        stamp = datetime.now().strftime("%H:%M:%S")
        if record.status == ActionStatus.THOUGHT:
            self.status(f"{stamp} {what}: observed only ({record.result.get('thought')})")
        elif record.status == ActionStatus.DONE:
            self._rescan_next = False
            markdown = record.result.get("markdown_after_s")
            after = f"markdown {markdown:.2f} s after the first event; " if markdown else ""
            self.status(
                f"{stamp} {what} -> [green]ok[/green] in {elapsed:.2f} s ({after}all done "
                f"{time.monotonic() - cs.opened_at:.2f} s): {record.result.get('summary', '')}"
            )
        else:
            self._rescan_next = True  # whatever that run missed, the next one re-detects
            self.stats.failed_runs += 1
            self.status(
                f"{stamp} {what} -> [red]{record.status}[/red]: "
                f"{record.result.get('error') or record.result.get('summary', '')}"
            )

    def _change_waiting(self) -> bool:
        return len(self.bus) > 0

    def _without_unknown_transients(self, paths: list[str], transient: Sequence[str]) -> list[str]:
        """Drop files created and deleted within the window unless the model knows them.

        A "created" event can be an editor's save-by-rename of a file that existed all
        along; if such a file then disappears, the run must still hear about it.
        """
        known: set[str] = set()  # no repository: no index knows any file
        if self.repo is not None:
            with self.journal.store.connect() as conn:
                known = indexed_paths(conn, self.repo, list(transient))
        gone = set(transient) - known
        return [p for p in paths if p not in gone]

    def _perform_refresh(self, action: Action) -> Mapping[str, Any]:
        started = time.monotonic()
        outcome = _in_worker_thread(
            lambda: self.refresh(action.payload["paths"], action.payload["tags"])
        )
        self.stats.runs += 1
        self.stats.run_seconds.append(time.monotonic() - started)
        if not outcome.success:
            raise RuntimeError(f"run {outcome.run_id} failed: {outcome.summary}")
        # The refresh returned: its markdown is on disk. A proposal approved later (trust
        # level 2) is no change set's latency.
        opened_at = self._opened_at
        markdown_after = time.monotonic() - opened_at if opened_at is not None else None
        if markdown_after is not None:
            self.stats.markdown_seconds.append(markdown_after)
        summary = outcome.summary
        if outcome.follow_up is not None:
            # After the markdown and before the next change set: never two refreshes of
            # one repository at once. A save meanwhile makes it leave its remaining steps
            # to the next refresh, so that save's markdown waits for one step at most.
            # Its steps keep their own marks, so a failure here needs no rescan.
            follow_up = outcome.follow_up
            try:
                summary, problems = _in_worker_thread(lambda: follow_up(self._change_waiting))
            except Exception as exc:
                problems = [f"after the markdown: {type(exc).__name__}: {exc}"]
            for problem in problems:
                self.status(f"[yellow]{problem}[/yellow]")
        return {
            "run_id": outcome.run_id,
            "summary": summary,
            "markdown_after_s": round(markdown_after, 3) if markdown_after else None,
        }


T = TypeVar("T")


def _in_worker_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` off the main thread and wait for it.

    Dagster's in-process execution swallows SIGINT while it runs on the main thread; off
    it, Ctrl-C reaches the daemon's handler, which lets the run finish and then stops.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = fn()
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name="kg-refresh", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["outcome"]  # type: ignore[no-any-return]


def _describe(cs: ChangeSet, paths: Sequence[str] | None) -> str:
    head = cs.git_event.summary() + "; " if cs.git_event is not None else ""
    if paths is None:
        return head + "rescan"
    shown = ", ".join(paths[:3]) + (f" (+{len(paths) - 3})" if len(paths) > 3 else "")
    return head + f"{len(paths)} path{'s' if len(paths) != 1 else ''}: {shown}"


# --- the real refresh: the hub's stages, then the record in Dagster ----------------


def direct_refresh(watch: WatchRefresh) -> Refresh:
    """Refresh through ``watch`` (markdown first); the follow-up records it in Dagster."""

    def refresh(paths: Sequence[str] | None, tags: Mapping[str, str]) -> RunOutcome:
        reports = watch.refresh(paths, tags)

        def follow_up(interrupted: Callable[[], bool]) -> tuple[str, list[str]]:
            problems = watch.follow_up(reports, interrupted)
            return reports.sentence(watch.repo, watch.root), problems

        return RunOutcome(
            reports.refresh_id, True, reports.sentence(watch.repo, watch.root), follow_up
        )

    return refresh


def watch_refresh(
    store: Store, root: Path, repo: str, instance: Any, trust_level: int
) -> WatchRefresh:
    """The daemon's refresh with the code location's triage and embedder settings."""
    return configured_refresh(store, root, repo, instance, trust_level, trigger=TRIGGER)


def run_watch(
    repo_root: Path,
    *,
    console: Console,
    debounce_ms: int = DEFAULT_DEBOUNCE_MS,
    trust_level: int | None = None,
    name: str | None = None,
) -> int:
    """The ``kg hub --watch`` entry point; returns the process exit code.

    ``trust_level`` unset means ``$KGENTS_TRUST_LEVEL``, else 1 (write under .agentfs/).
    The repository is registered under ``name`` (else its directory's name) first.
    """
    from kgents_assets.instance import get_instance
    from kgents_assets.repos.names import InvalidRepoName
    from kgents_assets.repos.registration import register_local_path
    from kgents_assets.repos.registry import RepositoryConflict
    from kgents_assets.store import DatabaseUnavailable, open_store

    root = repo_root.resolve()
    if not root.is_dir():
        console.print(f"[red]{root} is not a directory[/red]")
        return 2
    raw_level = trust_level if trust_level is not None else os.environ.get(TRUST_ENV, "")
    try:
        level = TrustLevel(int(raw_level)) if str(raw_level).strip() else DEFAULT_TRUST
    except ValueError:
        console.print(f"[red]trust level must be 0-3, not {raw_level!r}[/red]")
        return 2
    lock = DaemonLock.for_repo(root)
    try:
        lock.acquire()
    except DaemonAlreadyRunning as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    try:
        try:
            # Connections reused across saves: a new one per stage cost 5-20 ms each.
            store = ReusingStore.of(open_store(None))
            repository = register_local_path(
                store, root, name, notify=lambda line: console.print(line, markup=False)
            )
        except DatabaseUnavailable as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
        except (RepositoryConflict, InvalidRepoName) as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
        instance = get_instance()
        try:
            watch = watch_refresh(store, root, repository.name, instance, int(level))
        except ValueError as exc:  # e.g. triage 'llm' without an endpoint
            console.print(f"[red]{exc}[/red]")
            instance.dispose()
            return 2
        daemon = WatchDaemon(
            root,
            store=store,
            repo=repository.name,
            refresh=direct_refresh(watch),
            status=console.print,
            debounce_ms=debounce_ms,
            trust_level=level,
        )
        interrupts = 0

        def on_signal(signum: int, frame: FrameType | None) -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts > 1:
                raise KeyboardInterrupt
            console.print("stopping (finishing the current run; Ctrl-C again to abort it)")
            daemon.stop()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            daemon.run()
        except KeyboardInterrupt:
            console.print("aborted; the next start finishes what this run left")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            waiting = watch.recorder.flush()  # the last chance for a queued record
            if waiting:
                console.print(f"[yellow]{waiting.split('; ')[0]}: lost with this exit[/yellow]")
            instance.dispose()
            store.close_idle()
        stats = daemon.stats
        console.print(
            f"stopped: {stats.change_sets} change sets, {stats.runs} refreshes "
            f"({stats.failed_runs} failed), {stats.events} events, "
            f"{watch.recorder.recorded} asset events recorded in Dagster"
        )
        return 1 if daemon.failure else 0
    finally:
        lock.release()
