"""``git_remote_sensor``: repositories added by git URL are refreshed when their branch moves.

Each tick asks every git repository's remote where its branch points (``git ls-remote``:
refs only, nothing is cloned or downloaded here; the run fetches) and requests one
``code_refresh_job`` run per repository that moved, for its partition, at that commit
(``git_sha`` in run config, ``kgents/sha`` tag, ``run_key`` = ``name:sha`` so a commit is
requested once however many ticks see it).

The cursor is ``{name: last sha seen}``. A repository absent from it (new, or a cursor
that was lost or unreadable) is compared with the commit its last refresh read
(``repositories.last_sha``): losing the cursor costs nothing for repositories that are up
to date, and a repository never refreshed gets its first run. The cursor advances when
the run is requested, not when it succeeds: a failed run is visible in the UI and is not
retried on every tick; the next commit (or ``kg hub``/a manual run) refreshes again. A
remote that cannot be read keeps its previous cursor entry, is logged as a warning on the
tick and asked again next tick; the other repositories go on.

Timing: remotes are asked 8 at a time with a 20 s deadline each, so a tick stays within
Dagster's 60 s sensor deadline unless more than 16 remotes hang at once.
"""

from __future__ import annotations

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from kgents_assets.assets.code import CODE_JOB, code_run_config
from kgents_assets.assets.partitions import REPOSITORIES_PARTITION, SHA_TAG
from kgents_assets.repos.models import RepoSource
from kgents_assets.repos.registry import list_repositories
from kgents_assets.repos.remote_poll import PollResult, decode_cursor, encode_cursor, poll_remotes
from resources.store import StoreResource
from sensors.events import Priority
from sensors.run_spec import run_tags

#: ls-remote is cheap for us, but a git host sees one request per repository per tick.
GIT_POLL_INTERVAL_S = 60
LS_REMOTE_TIMEOUT_S = 20.0
TRIGGER = "git-remote-sensor"


def git_run_request(name: str, sha: str) -> RunRequest:
    tags = run_tags(TRIGGER, priority=Priority.NORMAL)
    tags[SHA_TAG] = sha
    return RunRequest(
        run_key=f"{name}:{sha}",
        partition_key=name,
        run_config=code_run_config(git_sha=sha),
        tags=tags,
    )


@sensor(
    job_name=CODE_JOB,
    minimum_interval_seconds=GIT_POLL_INTERVAL_S,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every minute, asks the remote of each repository added by git URL where its "
    "branch points (git ls-remote: nothing is downloaded) and, when the branch moved, "
    "requests a code refresh of that repository at the new commit. An unreachable remote is "
    "logged on the tick and asked again next time; the other repositories are not held up.",
)
def git_remote_sensor(
    context: SensorEvaluationContext, store: StoreResource
) -> SensorResult | SkipReason:
    seen, unreadable = decode_cursor(context.cursor)
    if unreadable:
        context.log.warning(f"git_remote_sensor: {unreadable}")
    repositories = [r for r in list_repositories(store.open()) if r.source == RepoSource.GIT]
    if not repositories:
        return SkipReason("no repository is added by git URL (kg repo add NAME URL)")
    poll = poll_remotes(
        [(r.name, r.location, r.branch, seen.get(r.name) or r.last_sha) for r in repositories],
        timeout_s=LS_REMOTE_TIMEOUT_S,
    )
    for name, error in sorted(poll.errors.items()):
        context.log.warning(f"repository {name!r}: {error}")
    registered = {r.name for r in repositories}
    cursor = encode_cursor({n: s for n, s in seen.items() if n in registered} | poll.heads)
    if not poll.moved:
        return SensorResult(skip_reason=_nothing_moved(len(repositories), poll), cursor=cursor)
    known = set(context.instance.get_dynamic_partitions(REPOSITORIES_PARTITION))
    # A repository registered without its partition (an instance reset, rows restored from a
    # backup) gets it in the same tick: Dagster adds partitions before it submits the runs.
    missing = sorted(set(poll.moved) - known)
    return SensorResult(
        run_requests=[git_run_request(name, sha) for name, sha in sorted(poll.moved.items())],
        dynamic_partitions_requests=(
            [AddDynamicPartitionsRequest(REPOSITORIES_PARTITION, missing)] if missing else None
        ),
        cursor=cursor,
    )


def _nothing_moved(checked: int, poll: PollResult) -> str:
    answered = checked - len(poll.errors)
    reason = f"no branch moved ({answered} of {checked} git remotes answered)"
    if poll.errors:
        reason += "; unreadable: " + ", ".join(sorted(poll.errors))
    return reason
