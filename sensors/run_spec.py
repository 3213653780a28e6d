"""How a change set becomes a run of ``code_refresh_job``: its config and its tags.

Shared by the daemon (in-process runs) and the Dagster sensors (run requests), so both
triggers hand the job the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensors.events import Event, GitCommit, Priority

#: Above this many paths the run detects changes itself (one stat walk) instead of
#: carrying thousands of paths in its run config.
MAX_LISTED_PATHS = 2000
#: ``dagster/priority`` per event priority: the run queue starts urgent runs first.
DAGSTER_PRIORITY = {
    Priority.CRITICAL: 10,
    Priority.HIGH: 5,
    Priority.NORMAL: 0,
    Priority.LOW: -5,
}
TAG_TRIGGER = "kgents/trigger"
TAG_CHANGE_SET = "kgents/change_set"
TAG_PATHS = "kgents/changed_paths"
#: the commit a run models: the same tag as a remote poll's run (assets.partitions.SHA_TAG);
#: a literal here because this module must not import Dagster
TAG_SHA = "kgents/sha"
TAG_MESSAGE = "kgents/git_message"
TAG_BRANCH = "kgents/git_branch"
TAG_EVENT = "kgents/event"


def listed_paths(paths: Sequence[str] | None, rescan: bool = False) -> list[str] | None:
    """The change set to pass, or None for "detect changes yourself"."""
    if rescan or paths is None or len(paths) > MAX_LISTED_PATHS:
        return None
    return sorted(set(paths))


def run_tags(
    trigger: str,
    *,
    priority: Priority = Priority.NORMAL,
    change_set: str | None = None,
    n_paths: int | None = None,
    event: Event | None = None,
) -> dict[str, str]:
    tags = {TAG_TRIGGER: trigger, "dagster/priority": str(DAGSTER_PRIORITY[priority])}
    if change_set:
        tags[TAG_CHANGE_SET] = change_set
    if n_paths is not None:
        tags[TAG_PATHS] = str(n_paths)
    if event is not None:
        tags[TAG_EVENT] = event.kind
        sha = getattr(event, "sha", None)
        if sha:
            tags[TAG_SHA] = sha
        branch = getattr(event, "branch", None)
        if branch:
            tags[TAG_BRANCH] = branch
        if isinstance(event, GitCommit) and event.message:
            tags[TAG_MESSAGE] = _one_line(event.message)
    return tags


def _one_line(message: str, limit: int = 200) -> str:
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
