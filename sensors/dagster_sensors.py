"""The Dagster sensors built on the event sources (the daemon's way; also in Kubernetes).

All three are RUNNING by default and keep cursors, so a restarted daemon resumes:

- ``code_file_change_sensor``: stat walk vs the ``hub_files`` index (no parsing); requests
  ``code_refresh_job`` with the change set in run config; run_key = the change set's hash.
- ``code_git_commit_sensor``: HEAD/branch moves (commit, pull, checkout, rebase), run
  tagged with sha and message at a higher ``dagster/priority``.
- ``test_failure_sensor``: ``test_failed`` entries of the event journal (pytest plugin, CI
  webhook) -> a ``failure_context_job`` run at the highest priority, which records the
  failing test's node and the nodes it exercises.

Dagster wiring only: the logic lives in the modules they call.
"""

import json

from dagster import (
    Config,
    DefaultSensorStatus,
    Definitions,
    OpExecutionContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    job,
    op,
    sensor,
)

from resources.repo import RepoResource
from resources.store import StoreResource
from sensors.change_index import detect_changes
from sensors.events import Priority
from sensors.failure_context import record_failure_contexts
from sensors.git_source import GitError, GitRepo, GitWatcher
from sensors.journal import EventJournal
from sensors.run_spec import CODE_JOB, code_run_config, listed_paths, run_tags

#: The daemon ticks every ~5 s; asking more often than that buys nothing.
INTERVAL_S = 5
FAILURES_PER_RUN = 100


@sensor(
    job_name=CODE_JOB,
    minimum_interval_seconds=INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests an incremental code refresh when files differ from the index "
    "(mtime + size; nothing is parsed). The run gets the change set and does not rescan.",
)
def code_file_change_sensor(
    context: SensorEvaluationContext, repo: RepoResource, store: StoreResource
) -> SensorResult | SkipReason:
    root = repo.root()
    changes = detect_changes(root, store.open(repo.agentfs()))
    if not changes:
        return SkipReason(f"no changes: {changes.checked} files match the index")
    if context.cursor == changes.fingerprint:
        return SkipReason(
            f"{len(changes.paths)} changed files already requested; waiting for that run"
        )
    paths = listed_paths(changes.paths)
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"files:{changes.fingerprint}",
                run_config=code_run_config(paths),
                tags=run_tags(
                    "file-change-sensor",
                    priority=Priority.NORMAL,
                    change_set=changes.fingerprint,
                    n_paths=len(changes.paths),
                ),
            )
        ],
        cursor=changes.fingerprint,
    )


@sensor(
    job_name=CODE_JOB,
    minimum_interval_seconds=INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests a code refresh for each HEAD move (commit, pull, checkout, "
    "rebase) with the files it changed; runs are tagged with sha and message.",
)
def code_git_commit_sensor(
    context: SensorEvaluationContext, repo: RepoResource, store: StoreResource
) -> SensorResult | SkipReason:
    root = repo.root()
    try:
        git = GitRepo.open(root)
    except GitError as exc:
        return SkipReason(str(exc))
    if not context.cursor:
        watcher = GitWatcher(git, source="git-sensor")
        return SensorResult(
            skip_reason=f"baseline recorded: {watcher.state.describe()}",
            cursor=json.dumps(watcher.cursor()),
        )
    watcher = GitWatcher.from_cursor(git, json.loads(context.cursor), source="git-sensor")
    events = watcher.check()
    if not events:
        return SkipReason(f"HEAD unchanged: {watcher.state.describe()}")
    EventJournal(store.open(repo.agentfs())).append_many(events)
    # The old commit may be gone (gc after a rewrite): then the run detects changes itself.
    rescan = any(e.kind == "rescan" for e in events)
    requests = []
    for event in events:
        if event.kind in ("git_push", "rescan"):
            continue  # a push changes no file here; it is journaled only
        paths = None if rescan else listed_paths(event.affected_paths)
        requests.append(
            RunRequest(
                # Unique per move: checking out the same commit again must refresh again.
                run_key=f"{event.key}@{event.at.isoformat()}",
                run_config=code_run_config(paths),
                tags=run_tags(
                    "git-commit-sensor",
                    priority=Priority.HIGH,
                    n_paths=len(paths) if paths is not None else None,
                    event=event,
                ),
            )
        )
    return SensorResult(run_requests=requests, cursor=json.dumps(watcher.cursor()))


class FailureContextConfig(Config):
    """The ``test_failed`` journal entries (by seq) to build failure contexts for."""

    event_seqs: list[int]


@op(description="Finds each failing test's node and the nodes it exercises; stores them.")
def record_failure_context(
    context: OpExecutionContext,
    config: FailureContextConfig,
    repo: RepoResource,
    store: StoreResource,
) -> None:
    contexts = record_failure_contexts(store.open(repo.agentfs()), config.event_seqs)
    for ctx in contexts:
        found = ctx.test_node_id or "not in the code model (run the code refresh first?)"
        context.log.info(f"{ctx.test_nodeid}: test node {found}; {len(ctx.nodes)} nodes")


@job(
    description="Failure context for failing tests (the test-failure sensor's job).",
    tags={"dagster/priority": "10"},
)
def failure_context_job() -> None:
    record_failure_context()


@sensor(
    job=failure_context_job,
    minimum_interval_seconds=INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Highest priority: failing tests from the event journal (pytest plugin, "
    "CI webhook) become failure-context records for the failing test's nodes.",
)
def test_failure_sensor(
    context: SensorEvaluationContext, repo: RepoResource, store: StoreResource
) -> SensorResult | SkipReason:
    cursor = int(context.cursor or 0)
    entries = EventJournal(store.open(repo.agentfs())).read_after(
        cursor, kinds=["test_failed"], limit=FAILURES_PER_RUN
    )
    if not entries:
        return SkipReason(f"no failing tests journaled after #{cursor}")
    seqs = [e.seq for e in entries]
    first = entries[0].event
    tags = run_tags("test-failure-sensor", priority=Priority.CRITICAL, event=first)
    tags["kgents/failed_tests"] = str(len(seqs))
    return SensorResult(
        run_requests=[
            RunRequest(
                run_key=f"test-failures:{seqs[0]}-{seqs[-1]}",
                run_config={"ops": {"record_failure_context": {"config": {"event_seqs": seqs}}}},
                tags=tags,
            )
        ],
        cursor=str(seqs[-1]),
    )


# The code location merges these; the code job and resources come from the other defs.
defs = Definitions(
    jobs=[failure_context_job],
    sensors=[code_file_change_sensor, code_git_commit_sensor, test_failure_sensor],
)
