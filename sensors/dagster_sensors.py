"""The Dagster sensors built on the event sources (the daemon's way; also in Kubernetes).

All three are RUNNING by default and keep cursors, so a restarted daemon resumes:

- ``code_file_change_sensor``: stat walk vs the ``hub_files`` index (no parsing); requests
  ``code_refresh_job`` with the change set in run config; run_key = the change set's hash.
- ``code_git_commit_sensor``: HEAD/branch moves (commit, pull, checkout, rebase), run
  tagged with sha and message at a higher ``dagster/priority``.
- ``test_failure_sensor``: ``test_failed`` entries of the event journal (pytest plugin, CI
  webhook) -> a ``failure_context_job`` run at the highest priority, which records the
  failing test's node and the nodes it exercises.

Every sensor works per repository partition: the local repositories of the store (a git
URL repository has ``git_remote_sensor`` instead), one run request per repository that
changed, its cursor a JSON object keyed by repository name.

Dagster wiring only: the logic lives in the modules they call.
"""

import json
import warnings

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
from dagster._utils.warnings import BetaWarning

from kgents_assets.assets.code import CODE_JOB, code_refresh_job, code_run_config
from kgents_assets.repos.models import Repository, RepoSource
from kgents_assets.repos.registry import list_repositories
from resources.store import StoreResource
from sensors.change_index import detect_changes
from sensors.events import Priority
from sensors.failure_context import record_failure_contexts
from sensors.git_remote import git_remote_sensor
from sensors.git_source import GitError, GitRepo, GitWatcher
from sensors.journal import EventJournal
from sensors.run_spec import listed_paths, run_tags

# `owners` on sensors is beta in Dagster 1.13 and warns at every definition load: noise
# for a user of `kg`, who cannot act on it.
warnings.filterwarnings("ignore", message=r".*`owners`.*", category=BetaWarning)

#: Below the daemon's own ~5 s loop on purpose: the loop decides "due" by comparing the
#: time since the last tick with this interval, and a 5 s interval against a ~5 s loop
#: is missed on jitter alone, turning every other tick into a 10 s wait. At 1 s, every
#: loop evaluates the sensors.
INTERVAL_S = 1
FAILURES_PER_RUN = 100


def _cursor(raw: str | None) -> dict[str, object]:
    """A per-repository cursor; an old single-repository cursor (or garbage) starts over."""
    try:
        loaded = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _local_repositories(store: StoreResource) -> list[Repository]:
    return [r for r in list_repositories(store.open()) if r.source == RepoSource.LOCAL]


@sensor(
    job_name=CODE_JOB,
    minimum_interval_seconds=INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests an incremental code refresh of each local repository whose files "
    "differ from its index (mtime + size; nothing is parsed). The run gets the change set "
    "and does not rescan.",
)
def code_file_change_sensor(
    context: SensorEvaluationContext, store: StoreResource
) -> SensorResult | SkipReason:
    cursor = _cursor(context.cursor)
    requests, quiet = [], []
    opened = store.open()
    for repository in _local_repositories(store):
        root = repository.local_path
        if root is None or not root.is_dir():
            quiet.append(f"{repository.name}: checkout missing")
            continue
        changes = detect_changes(root, opened, repository.name)
        if not changes:
            quiet.append(f"{repository.name}: {changes.checked} files match")
            continue
        if cursor.get(repository.name) == changes.fingerprint:
            quiet.append(f"{repository.name}: {len(changes.paths)} changes already requested")
            continue
        cursor[repository.name] = changes.fingerprint
        requests.append(
            RunRequest(
                run_key=f"files:{repository.name}:{changes.fingerprint}",
                partition_key=repository.name,
                run_config=code_run_config(listed_paths(changes.paths)),
                tags=run_tags(
                    "file-change-sensor",
                    priority=Priority.NORMAL,
                    change_set=changes.fingerprint,
                    n_paths=len(changes.paths),
                ),
            )
        )
    if not requests:
        return SkipReason("no changes: " + ("; ".join(quiet) or "no local repositories"))
    return SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))


def _git_requests(
    repository: Repository, watcher: GitWatcher, store: StoreResource
) -> list[RunRequest]:
    events = watcher.check()
    if not events:
        return []
    EventJournal(store.open()).append_many(events, repo=repository.name)
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
                run_key=f"{repository.name}:{event.key}@{event.at.isoformat()}",
                partition_key=repository.name,
                run_config=code_run_config(paths),
                tags=run_tags(
                    "git-commit-sensor",
                    priority=Priority.HIGH,
                    n_paths=len(paths) if paths is not None else None,
                    event=event,
                ),
            )
        )
    return requests


@sensor(
    job_name=CODE_JOB,
    minimum_interval_seconds=INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests a code refresh of a local repository for each HEAD move (commit, "
    "pull, checkout, rebase) with the files it changed; runs are tagged with sha and message.",
)
def code_git_commit_sensor(
    context: SensorEvaluationContext, store: StoreResource
) -> SensorResult | SkipReason:
    cursor = _cursor(context.cursor)
    requests: list[RunRequest] = []
    notes: list[str] = []
    for repository in _local_repositories(store):
        root = repository.local_path
        try:
            git = GitRepo.open(root) if root is not None else None
        except GitError as exc:
            notes.append(f"{repository.name}: {exc}")
            continue
        if git is None:
            continue
        saved = cursor.get(repository.name)
        if not isinstance(saved, dict):
            watcher = GitWatcher(git, source="git-sensor")
            notes.append(f"{repository.name}: baseline recorded: {watcher.state.describe()}")
        else:
            watcher = GitWatcher.from_cursor(git, saved, source="git-sensor")
            found = _git_requests(repository, watcher, store)
            if not found:
                notes.append(f"{repository.name}: HEAD unchanged")
            requests.extend(found)
        cursor[repository.name] = watcher.cursor()
    return SensorResult(
        run_requests=requests,
        cursor=json.dumps(cursor, sort_keys=True),
        skip_reason=None if requests else ("; ".join(notes) or "no local repositories"),
    )


class FailureContextConfig(Config):
    """The ``test_failed`` journal entries (by seq) to build failure contexts for."""

    event_seqs: list[int]


@op(description="Finds each failing test's node and the nodes it exercises; stores them.")
def record_failure_context(
    context: OpExecutionContext,
    config: FailureContextConfig,
    store: StoreResource,
) -> None:
    contexts = record_failure_contexts(store.open(), config.event_seqs)
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
    jobs=[failure_context_job, code_refresh_job],
    minimum_interval_seconds=INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Highest priority: failing tests from the event journal (pytest plugin, "
    "CI webhook) become failure-context records (and bundles) for the failing test's "
    "nodes; a failed CI run that lists no test refreshes its repository's model.",
)
def test_failure_sensor(
    context: SensorEvaluationContext, store: StoreResource
) -> SensorResult | SkipReason:
    cursor = int(context.cursor or 0)
    entries = EventJournal(store.open()).read_after(
        cursor, kinds=["test_failed", "ci_job", "ci_workflow"], limit=FAILURES_PER_RUN
    )
    if not entries:
        return SkipReason(f"no failing tests or CI runs journaled after #{cursor}")
    failing = [e for e in entries if e.event.kind == "test_failed"]
    # A failed CI run that names no test: refresh the repository's model, so whoever looks
    # into the failure starts from the code as it is now (at the highest priority).
    ci_failures = [
        e
        for e in entries
        if e.event.kind != "test_failed" and getattr(e.event, "failed", False) and e.repo
    ]
    requests = []
    if failing:
        seqs = [e.seq for e in failing]
        tags = run_tags("test-failure-sensor", priority=Priority.CRITICAL, event=failing[0].event)
        tags["kgents/failed_tests"] = str(len(seqs))
        requests.append(
            RunRequest(
                run_key=f"test-failures:{seqs[0]}-{seqs[-1]}",
                job_name=failure_context_job.name,
                run_config={"ops": {"record_failure_context": {"config": {"event_seqs": seqs}}}},
                tags=tags,
            )
        )
    for repo in sorted({e.repo for e in ci_failures if e.repo}):
        last = max(e.seq for e in ci_failures if e.repo == repo)
        requests.append(
            RunRequest(
                run_key=f"ci-failure:{repo}:{last}",
                job_name=CODE_JOB,
                partition_key=repo,
                run_config=code_run_config(None),
                tags=run_tags("ci-failure", priority=Priority.CRITICAL),
            )
        )
    # the cursor passes every entry read, kept or not (a passing CI run is no work)
    cursor_after = str(entries[-1].seq)
    if not requests:
        return SensorResult(
            cursor=cursor_after,
            skip_reason=f"{len(entries)} CI/test events after #{cursor}, none a failure",
        )
    return SensorResult(run_requests=requests, cursor=cursor_after)


# The code location merges these; the code job and resources come from the other defs.
defs = Definitions(
    jobs=[failure_context_job],
    sensors=[
        code_file_change_sensor,
        code_git_commit_sensor,
        test_failure_sensor,
        git_remote_sensor,
    ],
)
