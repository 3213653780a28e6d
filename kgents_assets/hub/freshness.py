"""Is a node's stored state still true of the code on disk?

``fresh``: the state was derived from exactly the node's current source (same source
hash, same lines, read from the file now) and the hub confirmed it recently (the later of
the state's last update and the repository's last refresh is younger than the threshold).

Why both: re-reading the node's own file proves its signature, docstring and complexity,
but its callers live in other files, which may have changed since the last refresh
without touching this one. The age bound limits how old that part can be; a pending
``state`` mark in ``hub_dirty`` (a refresh was asked for and has not run) is stale too.

``stale``: a state exists but one of these fails. ``missing``: no state (or no node).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from kgents_assets.hub.discovery import extract_source, package_dir_checker
from kgents_assets.hub.languages import language_for_path
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.node_ids import qualify_node_id

Freshness = Literal["fresh", "stale", "missing"]
DEFAULT_MAX_AGE_S = 24 * 3600.0


@dataclass(frozen=True)
class FreshnessVerdict:
    status: Freshness
    reason: str
    #: the node's lines as the file is now (None when the file or node is gone)
    current_lines: tuple[int, int] | None = None
    #: when the hub last confirmed the state: max(last update, repository refresh)
    confirmed_at: datetime | None = None


def last_updated(state: NodeState) -> datetime | None:
    return max(state.updated.values()) if state.updated else None


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def check_freshness(
    state: NodeState,
    repo: str,
    root: Path | None,
    *,
    now: datetime,
    last_refresh_at: datetime | None,
    pending_reason: str | None,
    max_age_s: float = DEFAULT_MAX_AGE_S,
) -> FreshnessVerdict:
    """The verdict for ``state`` of repository ``repo`` whose files are under ``root``."""
    stamps = [t for t in (last_updated(state), last_refresh_at) if t is not None]
    confirmed = max(stamps) if stamps else None
    if root is None or not root.is_dir():
        return FreshnessVerdict(
            "stale", f"the repository's files are not on this machine ({root})", None, confirmed
        )
    path = root / state.file_path
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = "no longer exists" if isinstance(exc, FileNotFoundError) else f"unreadable: {exc}"
        return FreshnessVerdict("stale", f"{state.file_path} {reason}", None, confirmed)
    language = language_for_path(state.file_path) or state.language
    extract = extract_source(state.file_path, data, language, package_dir_checker(root))
    current = next(
        (n for n in extract.nodes if qualify_node_id(repo, n.node_id) == state.node_id), None
    )
    if current is None:
        return FreshnessVerdict(
            "stale",
            f"{state.qualname} is no longer in {state.file_path} (renamed, moved or removed)",
            None,
            confirmed,
        )
    lines = (current.start_line, current.end_line)
    if current.source_hash != state.source_hash:
        return FreshnessVerdict(
            "stale",
            f"the source of {state.qualname} changed since the state was derived "
            f"(source {state.source_hash[:12]}, now {current.source_hash[:12]})",
            lines,
            confirmed,
        )
    if lines != (state.start_line, state.end_line):
        return FreshnessVerdict(
            "stale",
            f"{state.qualname} moved from lines {state.start_line}-{state.end_line} to "
            f"{lines[0]}-{lines[1]}",
            lines,
            confirmed,
        )
    if pending_reason is not None:
        why = f" ({pending_reason})" if pending_reason else ""
        return FreshnessVerdict(
            "stale", f"a refresh of this node is pending{why}", lines, confirmed
        )
    if confirmed is None:
        return FreshnessVerdict("stale", "the state carries no timestamp", lines, None)
    age = (now - confirmed).total_seconds()
    if age > max_age_s:
        return FreshnessVerdict(
            "stale",
            f"the source matches, but the hub last confirmed this state {_age(age)} ago "
            f"(threshold {_age(max_age_s)}): callers in other files may have changed",
            lines,
            confirmed,
        )
    return FreshnessVerdict(
        "fresh", f"derived from the current source, confirmed {_age(max(age, 0))} ago", lines,
        confirmed,
    )  # fmt: skip
