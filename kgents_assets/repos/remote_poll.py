"""Which git-URL repositories moved: one ``ls-remote`` per repository, errors kept apart.

A poll asks every remote where its branch is and compares with the commit last seen. The
remotes are asked in parallel (each ask is a subprocess waiting on the network, so threads
cost nothing): with hundreds of repositories a sequential poll would outlast a sensor
tick. One unreachable or misconfigured remote is an entry in ``errors``, never a reason
to skip the others.

The cursor (what the caller persists between polls) is a JSON object ``{name: sha}``. A
cursor that cannot be read — hand-edited, truncated, from an older format — is treated
as empty, and the reason is returned for the caller to log: the worst outcome is one run
per repository at its current head, never a poll that fails forever.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from kgents_assets.repos.git_checkout import LS_REMOTE_TIMEOUT_S, remote_head
from kgents_assets.repos.git_run import GitSourceError

#: ls-remotes in flight at once: enough to hide network latency, few enough to be polite
#: to one git host serving many of the repositories.
MAX_PARALLEL = 8


class WatchedRemote(NamedTuple):
    name: str
    url: str
    branch: str | None  # None: the remote's default branch
    last_seen_sha: str | None  # None: never seen, any head counts as a move


@dataclass(frozen=True)
class PollResult:
    #: name -> new head, for every repository whose head differs from the last one seen
    moved: dict[str, str] = field(default_factory=dict)
    #: name -> head, for every repository that answered (moved or not)
    heads: dict[str, str] = field(default_factory=dict)
    #: name -> why its remote could not be read (git's message, secrets redacted)
    errors: dict[str, str] = field(default_factory=dict)


HeadFn = Callable[[str, str | None, float], str]


def poll_remotes(
    remotes: Iterable[tuple[str, str, str | None, str | None]],
    *,
    timeout_s: float = LS_REMOTE_TIMEOUT_S,
    head: HeadFn = remote_head,
) -> PollResult:
    watched = [WatchedRemote(*r) for r in remotes]
    if not watched:
        return PollResult()

    def ask(remote: WatchedRemote) -> str | GitSourceError:
        try:
            return head(remote.url, remote.branch, timeout_s)
        except GitSourceError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(watched))) as pool:
        answers = list(pool.map(ask, watched))
    result = PollResult()
    for remote, answer in zip(watched, answers, strict=True):
        if isinstance(answer, GitSourceError):
            result.errors[remote.name] = str(answer)
            continue
        result.heads[remote.name] = answer
        if answer != remote.last_seen_sha:
            result.moved[remote.name] = answer
    return result


def encode_cursor(seen: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(seen.items())), separators=(",", ":"))


def decode_cursor(raw: str | None) -> tuple[dict[str, str], str | None]:
    """(name -> last seen sha, None) or, for an unreadable cursor, ({}, why)."""
    if not raw:
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return {}, f"cursor is not JSON ({exc}); starting from an empty one"
    if not isinstance(value, dict):
        return {}, f"cursor is a JSON {type(value).__name__}, not an object; starting over"
    seen = {k: v for k, v in value.items() if isinstance(v, str) and v}
    dropped = sorted(set(value) - set(seen))
    why = f"cursor entries without a sha dropped: {', '.join(dropped)}" if dropped else None
    return seen, why
