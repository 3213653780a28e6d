"""``kg hub --once`` after a small edit: the hub's stages in this process, no Dagster run.

When ``hub_skip.decide`` finds that only a few files moved since a run that ended well
(same configuration, every fixture within its TTL, a local checkout: ``Decision.
small_change``), a Dagster run of ``materialize_all`` would spend ~15 s on Django
(importing the code location, ~40 steps that mostly find nothing, the checks) around
well under a second of hub work. This does what ``kg hub --watch`` does for a save
(``sensors.watch_refresh.WatchRefresh``, the same code): ``refresh_files`` ->
``refresh_states`` -> ``refresh_markdown``, then the public-API impact, the catalog for
the changed nodes and the test skeletons, then one runless materialization per code asset
on the repository's partition, so the assets' history, partition status and lineage in the
Dagster UI show the refresh. ``kg hub --once --run`` still makes the real run.

The generated test's pytest, whose result the sentence reports, is started as a process
before the stages (``hub.warm_pytest``: its interpreter and pytest's imports, about as long
as the test itself, overlap the stages on the second core) and handed its one test once it
is written. The command ends when the person's results are done (markdown, model, catalog,
impact, skeletons), without the interpreter's teardown (``cli.hub._end_process``); the Dagster
record is written after it by the detached recorder
(``kgents_assets.cli.hub_record``), which holds the repository's "record pending" lock from
before the command exits until the record and the clean-run record are written. What the
command says is true at the time it says it: the assets are "being recorded" in Dagster.

What it does not do: evaluate the asset checks (a run does; ``markdown_in_sync`` alone
costs ~1.6 s on Django, the budget of the whole command), or regenerate fixtures (none is
stale, or ``decide`` would have asked for a run).

The "nothing to do" record (``hub.clean_run``) is forgotten before the stages start and
written again, for this refresh's id, only when every step ended well (the command hands
it to the recorder) and every event reached the Dagster instance (the recorder writes it
then); the next ``kg hub --once`` waits for a pending record, and with nothing changed is
again the one-line no-op. A failed step keeps its marks and leaves no record, so the next
command makes a real run, which finds the marks and does the work; so does a failed
record, which the next command names.

A Dagster run of the same repository going on meanwhile (the sensors, the UI) is not raced:
each stage takes the repository's advisory lock (``hub.dirty.stage_lock``) for its
transaction, so the stages wait for the run's stage in progress and then find its work
done. Whichever finishes last is the repository's last run: a run ending after this
refresh voids its clean record, and the next command runs for real.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kgents_assets.cli.hub_record import ChildRecorder
    from kgents_assets.cli.hub_skip import Decision
    from kgents_assets.hub.scan import FileStat
    from kgents_assets.hub.warm_pytest import WarmPytest
    from kgents_assets.repos.models import Repository
    from kgents_assets.store import Store

#: the trigger the runless events name (``kg hub --watch`` names ``kg-hub-watch``)
TRIGGER = "kg-hub-once"
CHECKS_NOTE = "asset checks not evaluated (kg hub --once --run evaluates them)"
#: ``sensors.run_spec.run_tags(TRIGGER)`` spelled out (a test holds them equal): that module
#: imports the sensors' event models, ~20 pydantic classes this path has no other use for
TAGS = {"kgents/trigger": TRIGGER, "dagster/priority": "0"}


@dataclass(frozen=True)
class InProcessOutcome:
    """What one in-process refresh did; ``refresh_id`` None: the stages themselves failed."""

    refresh_id: str | None
    #: asset key -> its metadata as the asset names it, for each event recorded in Dagster
    assets: dict[str, dict[str, Any]]
    #: step -> why it failed (what it consumes is left for the next run)
    failures: dict[str, str]
    #: anything else that went wrong (the refresh not recorded in the store or in Dagster)
    problems: list[str]
    duration_s: float
    #: every asset event was handed to the recorder, which writes them after the command
    recorded: bool = False
    #: wall seconds by part: the stages, each follow-up step, the record (the store, then
    #: handing the events to the recorder once it holds the record lock)
    timings: dict[str, float] = field(default_factory=dict)
    #: the detached recorder writing the events (its pid file under $KGENTS_HOME/logs)
    record_pid: int | None = None

    @property
    def success(self) -> bool:
        return not self.failures and not self.problems


def refresh_in_process(
    store: Store,
    repository: Repository,
    root: Path,
    *,
    trust_level: int,
    recorder: ChildRecorder | None = None,
    walked: Sequence[FileStat | tuple[str, str]] | None = None,
    warm: WarmPytest | None = None,
) -> InProcessOutcome:
    """The stages, the follow-up and the record in Dagster for ``repository`` at ``root``
    (handed to the recorder, written after this returns); the clean-run record renewed by
    the recorder when everything ended well. ``recorder``: the one ``kg hub --once``
    started as soon as it decided (else one starts now); let go or closed here.
    ``walked``: the tree walk ``decide``'s stat scan just made (stage 1 compares it with the
    index under its lock instead of walking the tree again). ``warm``: a pytest process
    started for ``root`` that runs the first generated test (closed here if unused)."""
    from kgents_assets.cli.hub_record import ChildRecorder
    from kgents_assets.cli.hub_skip import configuration
    from kgents_assets.hub.clean_run import forget_clean_run
    from sensors.watch_refresh import configured_refresh

    started = time.perf_counter()
    # it takes the record lock while the stages below run (kg starts it before importing
    # this module; a caller that did not, now)
    if recorder is None:
        recorder = ChildRecorder()
    recorder.name(repository.name, store.url)
    timings: dict[str, float] = {}
    try:
        with store.transaction() as conn:
            # a refresh that dies halfway must leave no "nothing to do" record behind
            forget_clean_run(conn, repository.name)
            ran_under = configuration(conn)
        watch = configured_refresh(
            store, root, repository.name, None, trust_level, trigger=TRIGGER, recorder=recorder
        )
        watch.warm_pytest = warm
        try:
            # None: refresh_files compares the whole tree with the index itself, as the
            # run's code_nodes does, but from the walk decide's stat scan made a moment ago
            # (~0.4 s on Django to walk again): the same files, compared again with the
            # index as it is under the stage lock, so a run that indexed files meanwhile
            # is seen; a file saved in between is the next refresh's, as it would be one
            # saved just after a second walk.
            reports = watch.refresh(None, TAGS, walked)
        except Exception as exc:
            failure = {"stages": f"{type(exc).__name__}: {exc}"}
            return InProcessOutcome(None, {}, failure, [], time.perf_counter() - started)
        timings["stages"] = reports.markdown_s
        problems = watch.follow_up(reports)
        timings.update(reports.step_s)
        # a one-shot process has no later flush: what did not go now is lost (and said)
        recorded = recorder.handed and not recorder.pending
        # a failed step is already in ``failures``; the rest (store or instance) stays
        failed = reports.failures
        others = [p for p in problems if not any(p.startswith(f"{k} failed") for k in failed)]
        succeeded = not failed and not others
        # the recorder writes the clean-run record once every event reached the instance
        clean = {"refresh_id": reports.refresh_id, "configuration": ran_under}
        handed = time.perf_counter()
        let_go = recorder.finish(clean if succeeded else None)
        timings["record"] = timings.get("record", 0.0) + time.perf_counter() - handed
        if let_go is not None and recorded:
            lost = len(reports.recorded)
            others.append(f"{lost} asset events not recorded in Dagster ({let_go})")
            recorded = False
    finally:
        recorder.close()  # a recorder handed its events goes on: this stops only others
        if warm is not None:
            warm.close()  # used, it is gone already; unused (no test to run), ended now
    metadata = reports.asset_metadata(repository.name, root)
    assets = {
        key: {**metadata[key], "outcome": "nothing changed, downstream skipped"}
        if kind == "observation"
        else metadata[key]
        for key, kind in reports.recorded
    }
    return InProcessOutcome(
        reports.refresh_id,
        assets,
        dict(reports.failures),
        [p.split("; ")[0] for p in others],
        time.perf_counter() - started,
        recorded,
        timings,
        recorder.pid if recorded else None,
    )


def in_process_sentence(
    repository: str, reason: str, outcome: InProcessOutcome, duration_s: float
) -> str:
    """``app: 1 file(s) new or modified (app.py); refreshed without a Dagster run in 0.4 s
    (refresh 1a2b3c4d…): code_nodes -1 node, ...; 6 assets being recorded in Dagster
    (...); asset checks not evaluated (...)``: the record is written after the command."""
    from kgents_assets.sentences import asset_change, seconds, short_id

    refresh = f" (refresh {short_id(outcome.refresh_id)})" if outcome.refresh_id else ""
    head = f"{repository}: {reason}; refreshed without a Dagster run in {seconds(duration_s)}"
    changes = [c for key, meta in outcome.assets.items() if (c := asset_change(key, meta))]
    said = ": " + "; ".join(changes) if changes else ": nothing changed in the model"
    if outcome.assets and outcome.recorded:
        recorded = (
            f"; {len(outcome.assets)} assets being recorded in Dagster "
            f"({', '.join(outcome.assets)})"
        )
    else:
        recorded = "; nothing recorded in Dagster"
    wrong = [f"{k} failed: {v}" for k, v in outcome.failures.items()] + outcome.problems
    if wrong:
        then = "the next kg hub --once runs the job"
        return f"{head}{refresh}{said}{recorded}; {'; '.join(wrong)}; {then}"
    return f"{head}{refresh}{said}{recorded}; {CHECKS_NOTE}"


def _import_aside(module: str) -> None:
    """Import ``module`` on a thread of its own. The catalog step embeds the changed nodes
    with numpy, whose import (0.2-0.35 s of CPU under load) the main thread would pay
    after the markdown; on this thread it runs while the stages wait on PostgreSQL. Only
    a module that imports none of this package: nothing the main thread holds while it
    imports can be waited for here, so the two imports cannot lock each other."""
    import contextlib
    import importlib
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):  # the step that needs it raises it itself
            importlib.import_module(module)

    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


def run_in_process(
    root: Path,
    store: Store,
    repository: Repository,
    decision: Decision,
    as_json: bool,
    started: float,
    recorder: ChildRecorder | None = None,
) -> int:
    """``kg hub --once`` for a small change set: refresh, then one sentence (or the JSON
    summary); exit 0 when everything ended well, else 1. ``recorder``: see
    ``refresh_in_process``."""
    from kgents_assets.cli.hub_record import log_path
    from kgents_assets.hub.warm_pytest import WarmPytest, runs_tests
    from kgents_assets.sentences import summary_metadata
    from kgents_assets.trust import default_trust_for, trust_from_env

    # the level the job's test_skeletons asset would use for this repository
    level = int(trust_from_env(default_trust_for(repository.source)))
    # The generated test's pytest is on this command's path (the sentence says how it
    # went): its interpreter and pytest's imports start now, on the second core, while
    # the stages run; the test is handed to it once it is written.
    warm: WarmPytest | None = None
    if runs_tests(level):
        try:
            warm = WarmPytest(root)
        except OSError:  # no process to be had now: the test starts its own, as it did
            warm = None
    _import_aside("numpy")
    refreshing = time.perf_counter()
    try:
        outcome = refresh_in_process(
            store,
            repository,
            root,
            trust_level=level,
            recorder=recorder,
            walked=decision.check.walked if decision.check is not None else None,
            warm=warm,
        )
    except ValueError as exc:  # settings that cannot work, e.g. triage 'llm' without one
        typer.echo(str(exc), err=True)
        return 2
    finally:
        if warm is not None:
            warm.close()
    elapsed = time.perf_counter() - started
    sentence = in_process_sentence(repository.name, decision.reason, outcome, elapsed)
    if not as_json:
        typer.echo(sentence)
        return 0 if outcome.success else 1
    summary: dict[str, Any] = {
        "summary": sentence,
        "repository": repository.name,
        "path": str(root),
        "run_id": None,  # no Dagster run: the refresh below is what recorded the assets
        "in_process": True,
        "refresh_id": outcome.refresh_id,
        "run_reason": decision.reason,
        "last_run_id": decision.last_run_id,
        "nothing_changed": False,
        "success": outcome.success,
        "duration_s": round(elapsed, 3),
        "assets": {key: summary_metadata(key, meta) for key, meta in outcome.assets.items()},
        "failed_steps": outcome.failures,
        "problems": outcome.problems,
        "skipped_steps": [],
        "fresh_fixtures": decision.fresh_fixtures,
        "checks": {},  # not evaluated without a run
        "checks_note": CHECKS_NOTE,
        # the Dagster record is written by a detached process after this command: the next
        # kg hub --once waits for it; its log says when it landed
        "recorded": "pending" if outcome.recorded else "not recorded",
        "record_pid": outcome.record_pid,
        "record_log": str(log_path()) if outcome.recorded else None,
        # where the time went: before_refresh is the store opened and the decision made
        "timings_s": {
            "before_refresh": round(refreshing - started, 3),
            **{k: round(v, 3) for k, v in outcome.timings.items()},
        },
    }
    typer.echo(json.dumps(summary, indent=2, default=str))
    return 0 if outcome.success else 1
