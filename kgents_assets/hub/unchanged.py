"""Whether a repository has anything for the code stages to do, without parsing anything.

Stage 1 (``refresh_files``) starts with a stat of every source file against the index
(``hub_files``); when no file is new, gone, or moved in mtime or size, and no stage has a
mark left in ``hub_dirty``, a refresh would read no file and write no row. This is that
first look on its own: milliseconds, no tree-sitter parse, no Dagster, so a caller can
skip a whole run that would find nothing (``kg hub --once`` on an unchanged checkout).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from kgents_assets.hub import dirty
from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.scan import FileStat, IndexedFile, compare_with_index, walk_source_files

#: every stage that consumes marks (``hub.dirty``); a mark left in one is work left
STAGES = (dirty.STATE, dirty.MARKDOWN, dirty.CATALOG)
#: changed paths kept for the message; the count is always exact
SHOWN = 5


@dataclass(frozen=True)
class ChangeCheck:
    """What the stat scan and the marks say about one repository."""

    files_checked: int
    changed: int  # new files, or mtime/size moved (content may still be equal)
    deleted: int
    pending_marks: int
    duration_s: float
    examples: list[str] = field(default_factory=list)  # a few of the paths above
    # nodes are modelled but their markdown directory is gone (deleted, or a fresh clone)
    markdown_missing: bool = False
    #: the walk itself (``walk_source_files``), for a refresh that follows at once to
    #: compare with the index instead of walking the tree a second time
    walked: tuple[FileStat | tuple[str, str], ...] = field(default=(), repr=False, compare=False)

    @property
    def nothing_changed(self) -> bool:
        return not (self.changed or self.deleted or self.pending_marks or self.markdown_missing)

    def reason(self) -> str:
        """Why a refresh has work, in words ("" when it has none)."""
        parts = []
        if self.changed:
            parts.append(f"{self.changed} file(s) new or modified")
        if self.deleted:
            parts.append(f"{self.deleted} file(s) deleted")
        if self.pending_marks:
            parts.append(f"{self.pending_marks} node(s) marked for a later stage")
        if self.markdown_missing:
            parts.append(f"the markdown directory {NODES_DIR.as_posix()} is missing")
        shown = f" ({', '.join(self.examples)})" if self.examples else ""
        return "; ".join(parts) + shown


def _index_stats(conn: psycopg.Connection[Any], repo: str) -> dict[str, IndexedFile]:
    # content_hash is not needed to tell "looks unchanged": mtime and size decide that
    rows = conn.execute("SELECT path, mtime_ns, size FROM hub_files WHERE repo = %s", (repo,))
    return {r[0]: IndexedFile(r[1], r[2], "") for r in rows}


def check_unchanged(conn: psycopg.Connection[Any], root: Path, repo: str) -> ChangeCheck:
    """Stat every source file of ``root`` (the walk ``refresh_files`` does, same ignore
    rules) against repository ``repo``'s index, and count its pending marks."""
    started = time.perf_counter()
    index = _index_stats(conn, repo)
    walked = tuple(walk_source_files(root, IgnoreRules.for_repo(root)))
    scan = compare_with_index(walked, index, full_scan=True)
    pending = sum(dirty.pending_count(conn, repo, stage) for stage in STAGES)
    missing = not (root / NODES_DIR).is_dir() and _has_nodes(conn, repo)
    examples = [c.path for c in scan.candidates[:SHOWN]] + scan.deleted[:SHOWN]
    return ChangeCheck(
        files_checked=scan.scanned,
        changed=len(scan.candidates),
        deleted=len(scan.deleted),
        pending_marks=pending,
        duration_s=time.perf_counter() - started,
        examples=examples[:SHOWN],
        markdown_missing=missing,
        walked=walked,
    )


def _has_nodes(conn: psycopg.Connection[Any], repo: str) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM hub_nodes WHERE repo = %s)", (repo,))
    found = row.fetchone()
    return bool(found and found[0])
