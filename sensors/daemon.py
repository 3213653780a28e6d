"""``kg hub --watch``: the event-driven daemon. It does not poll; it listens.

    inotify (watchfiles) ──► translator ──► EventBus ──► Debouncer ──► change set
    git dir changes ───────► GitWatcher ──┘                              │
                                                   ActionExecutor (trust) ▼
                                          materialize_code(...) in-process, same instance

- The main thread sleeps in ``EventBus.get`` until an event arrives or the open change
  set's quiet period ends: no timer does work while nothing changes.
- A burst (a checkout of thousands of files) merges into one change set; events that
  arrive during a run form the next one. Nothing is dropped: an overflowing bus turns
  into a rescan, a failed run makes the next run a rescan, and every start begins with a
  catch-up run that detects whatever changed while no daemon was watching (including a
  daemon killed mid-run: the pipeline's work marks finish what that run left).
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
from typing import TYPE_CHECKING, Any

from kgents_assets.hub.refresh_files import indexed_paths
from sensors.bus import DEFAULT_CAPACITY, BusClosed, EventBus
from sensors.debounce import DEFAULT_MAX_WAIT_S, ChangeSet, Debouncer
from sensors.events import Event, RescanRequested
from sensors.fs_source import FileEventTranslator, RepositoryWatch
from sensors.git_source import GitError, GitRepo, GitWatcher
from sensors.journal import EventJournal
from sensors.lock import DaemonAlreadyRunning, DaemonLock
from sensors.run_spec import listed_paths, run_tags
from sensors.trust import DEFAULT_TRUST, Action, ActionExecutor, ActionStatus, TrustLevel

if TYPE_CHECKING:
    from rich.console import Console

    from kgents_assets.store import Store

TRIGGER = "kg-hub-watch"
TRUST_ENV = "KGENTS_TRUST_LEVEL"
MATERIALIZE = "materialize_code"


@dataclass(frozen=True)
class RunOutcome:
    run_id: str | None
    success: bool
    summary: str


#: (paths or None for "detect yourself", run tags) -> outcome
Refresh = Callable[[Sequence[str] | None, Mapping[str, str]], RunOutcome]


@dataclass
class DaemonStats:
    change_sets: int = 0
    runs: int = 0
    failed_runs: int = 0
    events: int = 0
    run_seconds: list[float] = field(default_factory=list)


class WatchDaemon:
    def __init__(
        self,
        root: Path,
        *,
        store: Store,
        refresh: Refresh,
        repo: str | None = None,
        status: Callable[[str], None] = print,
        debounce_ms: int = 200,
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
        record = self.executor.execute(action)
        elapsed = time.monotonic() - started
        stamp = datetime.now().strftime("%H:%M:%S")
        latency = time.monotonic() - cs.opened_at
        if record.status == ActionStatus.THOUGHT:
            self.status(f"{stamp} {what}: observed only ({record.result.get('thought')})")
        elif record.status == ActionStatus.DONE:
            self._rescan_next = False
            self.status(
                f"{stamp} {what} -> run {str(record.result.get('run_id'))[:8]} "
                f"[green]ok[/green] in {elapsed:.2f} s (event to done {latency:.2f} s): "
                f"{record.result.get('summary', '')}"
            )
        else:
            self._rescan_next = True  # whatever that run missed, the next one re-detects
            self.stats.failed_runs += 1
            self.status(
                f"{stamp} {what} -> [red]{record.status}[/red]: "
                f"{record.result.get('error') or record.result.get('summary', '')}"
            )

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
        return {"run_id": outcome.run_id, "summary": outcome.summary}


def _in_worker_thread(fn: Callable[[], RunOutcome]) -> RunOutcome:
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


# --- the real refresh: the lead's in-process runner --------------------------------


def dagster_refresh(repo: str, instance: Any) -> Refresh:
    """Run ``code_refresh_job`` for ``repo``'s partition in-process against ``instance``
    (history in the UI)."""
    from kgents_assets.runner import materialize_code

    def refresh(paths: Sequence[str] | None, tags: Mapping[str, str]) -> RunOutcome:
        result = materialize_code(
            repo, paths, instance=instance, tags=tags, raise_on_error=False, log_level="ERROR"
        )
        return RunOutcome(result.run_id, result.success, _run_summary(result))

    return refresh


def _run_summary(result: Any) -> str:
    wanted = {
        "code_nodes": ("files_changed", "nodes_added", "nodes_changed", "nodes_removed"),
        "node_state": ("states_changed",),
        "node_markdown": ("written", "removed"),
    }
    parts: list[str] = []
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        name = mat.asset_key.to_user_string()
        for key in wanted.get(name, ()):
            value = mat.metadata.get(key)
            if value is not None and getattr(value, "value", None):
                parts.append(f"{key}={value.value}")
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        parts.append("failed steps: " + ", ".join(str(s) for s in failed))
    return ", ".join(parts) or "nothing to do"


def run_watch(
    repo_root: Path,
    *,
    console: Console,
    debounce_ms: int = 200,
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
            store = open_store(None)
            repository = register_local_path(store, root, name)
        except DatabaseUnavailable as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
        except (RepositoryConflict, InvalidRepoName) as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
        instance = get_instance()
        daemon = WatchDaemon(
            root,
            store=store,
            repo=repository.name,
            refresh=dagster_refresh(repository.name, instance),
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
            instance.dispose()
        stats = daemon.stats
        console.print(
            f"stopped: {stats.change_sets} change sets, {stats.runs} runs "
            f"({stats.failed_runs} failed), {stats.events} events"
        )
        return 1 if daemon.failure else 0
    finally:
        lock.release()
