"""The watch daemon's refresh: the hub's stages called directly, markdown first, and what
they did recorded in the Dagster instance afterwards.

Why not a Dagster run per save: an in-process run of ``code_refresh_job`` costs 0.85-2 s of
run machinery (run record, step events, resources, checks) for ~0.1 s of hub work, and the
markdown waited for it. Here a save costs the three hub stages
(``refresh_files`` -> ``refresh_states`` -> ``refresh_markdown``, the functions the assets
call); once the markdown is on disk the slower, non-urgent part follows: the public-API
impact, the catalog for the changed nodes and the test skeletons (each consumes marks or
baselines the stages left, so nothing is skipped by running them later), then one runless
materialization per
asset (``instance.report_runless_asset_event``) for the repository's partition. The UI's
asset pages show them in each asset's history, partition status and lineage like a run's,
marked as reported rather than linked to a run; their metadata names the refresh, its
trigger and the change set. Starting a Dagster run after the markdown instead would spend
the same 1-2 s of CPU on every save, on a machine where that delays the next save.

A record that cannot be written (the instance's database away) stays queued and is retried
before the next change set's record, and once more when the daemon stops: never dropped
while the daemon lives. A daemon killed outright between its markdown and its record loses
that record only (the model, markdown and catalog are complete, or finished by the next
start from their marks). Checks are not evaluated per save; any Dagster run of the job
(``kg hub --once``, the sensors) evaluates them.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.refresh_files import FilesReport, refresh_files
from kgents_assets.hub.refresh_markdown import MarkdownReport, refresh_markdown
from kgents_assets.hub.refresh_states import StatesReport, refresh_states
from kgents_assets.hub.scan import FileStat
from kgents_assets.repos.registry import record_refresh
from kgents_assets.sentences import run_summary_sentence
from sensors.asset_events import AssetEventSpec

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from kgents_assets.catalog.embedders.base import Embedder
    from kgents_assets.catalog.sync import SyncReport
    from kgents_assets.hub.test_creation import PendingCreation
    from kgents_assets.hub.triage import TriageBackend
    from kgents_assets.hub.warm_pytest import WarmPytest
    from kgents_assets.store import Store

log = logging.getLogger(__name__)
MAX_LISTED = 50
#: the trigger a refresh names in its asset events when its caller names none
DEFAULT_TRIGGER = "kg-hub-watch"


@dataclass
class StageReports:
    """What one refresh did; ``after_*`` are filled by the follow-up."""

    refresh_id: str
    tags: Mapping[str, str]
    files: FilesReport
    states: StatesReport
    markdown: MarkdownReport
    markdown_s: float
    listed: bool  # the change set named its paths (else the stage scanned the tree)
    impact: Mapping[str, Any] | None = None
    skeletons: Mapping[str, Any] | None = None
    catalog: SyncReport | None = None
    problems: list[str] = field(default_factory=list)
    #: follow-up step -> why it failed (its marks or baseline wait for the next refresh)
    failures: dict[str, str] = field(default_factory=dict)
    #: the asset events handed to the instance: (asset key, "materialization"|"observation")
    recorded: list[tuple[str, str]] = field(default_factory=list)
    #: wall seconds of each follow-up step, and of the record in the store and in Dagster
    step_s: dict[str, float] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        f, s, m = self.files, self.states, self.markdown
        return not (
            f.files_parsed
            or f.files_added
            or f.files_deleted
            or f.nodes_added
            or f.nodes_changed
            or f.nodes_removed
            or f.nodes_marked
            or s.nodes_processed
            or m.written
            or m.removed
        )

    def asset_metadata(self, repo: str, root: Path) -> dict[str, dict[str, Any]]:
        """Metadata per asset key, with the names the assets themselves use."""
        f, s, m = self.files, self.states, self.markdown
        out: dict[str, dict[str, Any]] = {
            "code_nodes": {
                "repository": repo,
                "checkout": str(root),
                "mode": "change set" if self.listed else "scan",
                "files_scanned": f.files_scanned,
                "files_changed": f.files_parsed,
                "files_added": f.files_added,
                "files_deleted": f.files_deleted,
                "files_touched": f.files_touched,
                "nodes_added": f.nodes_added,
                "nodes_changed": f.nodes_changed,
                "nodes_removed": f.nodes_removed,
                "nodes_marked": f.nodes_marked,
                "parse_errors": f.parse_errors,
                "skipped_files": len(f.problems),
                "changed_paths": f.changed_paths[:MAX_LISTED],
                "duration_s": round(f.duration_s, 3),
            },
            "node_state": {
                "nodes_processed": s.nodes_processed,
                "states_added": s.states_added,
                "states_changed": s.states_changed,
                "states_removed": s.states_removed,
                "states_unchanged": s.states_unchanged,
                "edges_written": s.edges_written,
                "decisions": s.decisions,
                "decisions_deferred": s.deferred,
                "duration_s": round(s.duration_s, 3),
            },
            "node_markdown": {
                "written": m.written,
                "removed": m.removed,
                "nodes_dir": str(root / NODES_DIR),
                "sample_paths": list(m.sample_paths),
                "duration_s": round(m.duration_s, 3),
                "save_to_markdown_s": round(self.markdown_s, 3),
            },
        }
        if self.impact is not None:
            out["api_impact"] = {"repository": repo, **self.impact}
        if self.skeletons is not None:
            out["test_skeletons"] = {"repository": repo, **self.skeletons}
        if self.catalog is not None:
            c = self.catalog
            out["catalog_embeddings"] = {
                "repository": repo,
                "mode": c.mode,
                "reason": c.reason,
                "embedder": c.embedder,
                "dimension": c.dimension,
                "entries_considered": c.considered,
                "entries_added": c.added,
                "entries_updated": c.updated,
                "entries_unchanged": c.unchanged,
                "entries_removed": c.removed,
                "entries_reembedded": c.reembedded,
                "dirty_marks_consumed": c.marks_consumed,
                "duration_s": round(c.duration_s, 3),
            }
        return out

    def sentence(self, repo: str, root: Path) -> str:
        return run_summary_sentence(
            self.refresh_id,
            True,
            self.asset_metadata(repo, root),
            repository=repo,
        )


class Recorder(Protocol):
    """Where a refresh's asset events go: queued by ``add``, written by ``flush`` (None
    when all went, else why the rest waits)."""

    pending: list[AssetEventSpec]
    recorded: int

    def add(self, events: Sequence[AssetEventSpec]) -> None: ...

    def flush(self) -> str | None: ...


class EventRecorder:
    """Asset events waiting to be written to the instance, oldest first; a failed write
    leaves them queued for the next :meth:`flush`."""

    def __init__(self, instance: DagsterInstance) -> None:
        self.instance = instance
        self.pending: list[AssetEventSpec] = []
        self.recorded = 0

    def add(self, events: Sequence[AssetEventSpec]) -> None:
        self.pending.extend(events)

    def flush(self) -> str | None:
        """Write what is queued; None when all went, else why the rest waits."""
        while self.pending:
            try:
                self.instance.report_runless_asset_event(self.pending[0].to_dagster())
            except Exception as exc:
                log.warning("recording in the Dagster instance failed, retried later: %s", exc)
                return (
                    f"{len(self.pending)} asset events not yet recorded in Dagster "
                    f"({type(exc).__name__}: {exc}); retried with the next change"
                )
            self.pending.pop(0)
            self.recorded += 1
        return None


class WatchRefresh:
    """``refresh(paths, tags)`` runs the hub stages (markdown on disk when it returns);
    ``follow_up(reports)`` does the impact, the catalog and the record in Dagster."""

    def __init__(
        self,
        store: Store,
        root: Path,
        repo: str,
        instance: DagsterInstance | None,
        *,
        triage: TriageBackend | None = None,
        embedder: Callable[[], Embedder] | None = None,
        trust_level: int | None = None,
        trigger: str = DEFAULT_TRIGGER,
        recorder: Recorder | None = None,
    ) -> None:
        """``embedder`` None leaves the catalog out, ``trust_level`` None the test
        skeletons (the daemon passes both: a refresh does what the job's assets do).
        The events go to ``recorder``, by default one writing to ``instance``."""
        self.store = store
        self.root = root
        self.repo = repo
        self.triage = triage
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self.trust_level = trust_level
        self.trigger = trigger
        #: an interrupted follow-up left steps for the next one, whatever it changes
        self._deferred = False
        if recorder is None:
            if instance is None:
                raise ValueError("a refresh records its events: give an instance or a recorder")
            recorder = EventRecorder(instance)
        self.recorder: Recorder = recorder
        #: a pytest process started early (``kg hub --once``) for the next generated test
        self.warm_pytest: WarmPytest | None = None

    # --- latency path: save -> markdown ------------------------------------------

    def refresh(
        self,
        paths: Sequence[str] | None,
        tags: Mapping[str, str],
        walked: Sequence[FileStat | tuple[str, str]] | None = None,
    ) -> StageReports:
        """``walked``: a whole-tree walk just made (``refresh_files``), when ``paths`` is None."""
        started = time.monotonic()
        refresh_id = uuid.uuid4().hex  # shaped like a run id: sentences shorten it the same way
        files = refresh_files(
            self.store, self.root, repo=self.repo, changed_paths=paths, walked=walked
        )
        states = refresh_states(self.store, repo=self.repo, triage=self.triage, run_id=refresh_id)
        markdown = refresh_markdown(self.store, self.root, repo=self.repo)
        return StageReports(
            refresh_id,
            dict(tags),
            files,
            states,
            markdown,
            time.monotonic() - started,
            listed=paths is not None,
        )

    # --- after the markdown --------------------------------------------------------

    def follow_up(
        self, reports: StageReports, interrupted: Callable[[], bool] = lambda: False
    ) -> list[str]:
        """Impact, catalog, test skeletons, the repository's last refresh, the record.

        Returns problems to show; a step that fails keeps its marks (or baseline) and is
        done by the next change set. When ``interrupted()`` (a new save waits), the steps
        not started yet are left to the next refresh's follow-up: the save's markdown
        comes first, and what those steps consume stays where it is until then."""
        problems: list[str] = []
        changed = not reports.unchanged or self._deferred
        self._deferred = False
        steps: list[tuple[str, Callable[[], None]]] = [
            ("catalog_embeddings", lambda: setattr(reports, "catalog", self._catalog(reports))),
        ]
        if changed:
            steps.insert(0, ("api_impact", lambda: setattr(reports, "impact", self._impact())))
        pending: PendingCreation | None = None
        if changed and self.trust_level is not None:
            # last, as ever, but its generated test's pytest (the slowest part) starts now
            # and runs while the steps before it do their work
            begun = time.monotonic()
            pending = self._begin_skeletons(self.trust_level)
            reports.step_s["test_skeletons"] = time.monotonic() - begun
            finish = pending.finish
            steps.append(
                ("test_skeletons", lambda: setattr(reports, "skeletons", finish().summary()))
            )
        for name, step in steps:
            # a skeleton whose test already runs is finished whatever comes in meanwhile
            running = pending is not None and pending.started and name == "test_skeletons"
            if not running and (self._deferred or interrupted()):
                self._deferred = True
                continue
            step_started = time.monotonic()
            try:
                step()
            except Exception as exc:
                reports.failures[name] = f"{type(exc).__name__}: {exc}"
                problems.append(f"{name} failed: {type(exc).__name__}: {exc}")
            finally:
                # the main thread's time in the step (its begun half included)
                reports.step_s[name] = reports.step_s.get(name, 0.0) + (
                    time.monotonic() - step_started
                )
        recording = time.monotonic()
        try:
            with self.store.transaction() as conn:
                record_refresh(
                    conn, self.repo, run_id=reports.refresh_id, sha=None, at=datetime.now(UTC)
                )
        except Exception as exc:
            problems.append(f"could not record the refresh: {type(exc).__name__}: {exc}")
        reports.problems = problems
        events = self.asset_events(reports)
        reports.recorded = [(e.asset_key, e.kind) for e in events]
        self.recorder.add(events)
        waiting = self.recorder.flush()
        reports.step_s["record"] = time.monotonic() - recording
        return [*problems, waiting] if waiting else problems

    def _impact(self) -> dict[str, Any]:
        from kgents_assets.hub.impact import detect_and_summarize

        with self.store.transaction() as conn:
            baseline, summaries = detect_and_summarize(conn, self.repo, self.root)
        return {
            "baseline": baseline,
            "api_changes": len(summaries),
            "broken_callsites": sum(
                len(s.callsites) for s in summaries if s.change in ("removed", "renamed")
            ),
            "summaries": [s.description for s in summaries[:MAX_LISTED]],
        }

    def _begin_skeletons(self, level: int) -> PendingCreation:
        from kgents_assets.hub.test_creation import begin_tests_for_changes

        warm, self.warm_pytest = self.warm_pytest, None  # used once, or closed
        return begin_tests_for_changes(self.store, self.repo, self.root, level, warm=warm)

    def _catalog(self, reports: StageReports) -> SyncReport | None:
        if self._embedder_factory is None:
            return None
        from kgents_assets.catalog.fixtures import fixture_entries
        from kgents_assets.catalog.sync import sync_catalog
        from kgents_assets.hotdata.catalog import load_specs

        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return sync_catalog(
            self.store,
            self._embedder,
            repo=self.repo,
            fixture_entries=fixture_entries(load_specs()),
            run_id=reports.refresh_id,
        )

    def asset_events(self, reports: StageReports) -> list[AssetEventSpec]:
        """One materialization per asset that ran; nothing changed: an observation of
        ``code_nodes`` (what a run of the job records then, its downstream skipped)."""
        common: dict[str, Any] = {
            "trigger": self.trigger,
            "refresh_id": reports.refresh_id,
            "tags": dict(reports.tags),
        }
        metadata = reports.asset_metadata(self.repo, self.root)
        events: list[AssetEventSpec] = []
        if reports.unchanged:
            events.append(
                AssetEventSpec(
                    "code_nodes",
                    "observation",
                    self.repo,
                    {
                        **metadata["code_nodes"],
                        **common,
                        "outcome": "nothing changed, downstream skipped",
                    },
                )
            )
            # Steps an interrupted follow-up left, done now, still materialized something.
            keep = {"api_impact", "test_skeletons"}
            if reports.catalog is not None and _catalog_changed(reports.catalog):
                keep.add("catalog_embeddings")
            metadata = {k: v for k, v in metadata.items() if k in keep}
        events.extend(
            AssetEventSpec(
                key,
                "materialization",
                self.repo,
                {**meta, **common},
                f"refreshed by {self.trigger} without a run",
            )
            for key, meta in metadata.items()
        )
        return events


#: ``$KGENTS_TRIAGE`` (resources.triage; not imported for the default: it imports Dagster)
TRIAGE_ENV = "KGENTS_TRIAGE"


def configured_refresh(
    store: Store,
    root: Path,
    repo: str,
    instance: DagsterInstance | None,
    trust_level: int,
    *,
    trigger: str = DEFAULT_TRIGGER,
    recorder: Recorder | None = None,
) -> WatchRefresh:
    """A refresh with the code location's triage and embedder settings, its events on the
    repository's partition and naming ``trigger`` (the watch daemon, ``kg hub --once``).

    With a ``recorder`` and no ``instance`` nothing here imports Dagster (the recorder
    sees to the partition). Raises ValueError for settings that cannot work (triage 'llm'
    without an endpoint)."""
    if instance is not None:
        from kgents_assets.assets.partitions import ensure_partition

        ensure_partition(instance, repo)  # its events land on the repository's partition
    return WatchRefresh(
        store,
        root,
        repo,
        instance,
        triage=_triage_backend(),
        embedder=_configured_embedder,
        trust_level=trust_level,
        trigger=trigger,
        recorder=recorder,
    )


def _configured_embedder() -> Embedder:
    # imported when the catalog first embeds, not when the refresh is built: numpy (~0.3 s)
    # is then off the path to the markdown
    from kgents_assets.catalog.embedders import DEFAULT_SPEC, EMBEDDER_ENV, get_embedder

    return get_embedder(os.environ.get(EMBEDDER_ENV) or DEFAULT_SPEC)


def _triage_backend() -> TriageBackend:
    """The backend definitions.py's triage resource gives, its EnvVars resolved here."""
    if not os.environ.get(TRIAGE_ENV):
        # the resource's default ("rules") needs no endpoint: no Dagster to import for it
        from kgents_assets.hub.triage import RulesTriage

        return RulesTriage()
    from resources.llm import llm_resource_from_env
    from resources.triage import triage_resource_from_env

    triage = triage_resource_from_env().process_config_and_initialize()
    llm = llm_resource_from_env().process_config_and_initialize()
    return triage.get_backend(llm)


def _catalog_changed(report: SyncReport) -> bool:
    return bool(report.added or report.updated or report.removed or report.reembedded)
