"""Stage 1 (asset ``code_nodes``): bring the node index in line with the files on disk.

Reads only what looks changed, parses only what is, rewrites the index rows of those files
and marks for stage 2 every node whose state may now differ: the nodes of changed files,
removed nodes, callers whose call names gained or lost a definition, and code whose
convention-named tests came or went.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from kgents_assets.hub import dirty
from kgents_assets.hub.copy_binary import copy_binary
from kgents_assets.hub.discovery import DEFAULT_MAX_FILE_BYTES
from kgents_assets.hub.file_reads import (
    FILE_COLUMNS,
    NODE_COLUMNS,
    TOUCHED,
    UNREADABLE,
    VANISHED,
    FileResult,
    NodeFacts,
    ReadRequest,
    read_files,
)
from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.languages import language_for_path
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.models import SKIPPED_STATUSES, FileStatus
from kgents_assets.hub.scan import (
    FileStat,
    IndexedFile,
    compare_with_index,
    stat_paths,
    walk_source_files,
)
from kgents_assets.hub.test_files import tested_names
from kgents_assets.store import Store
from kgents_assets.store.bulk import bulk_insert, bulk_upsert

LARGE_DELTA = 500  # names; past this, match callers in Python (see below)
#: the mark every node gets when the markdown directory has gone (and no file changed)
MARKDOWN_MISSING = "markdown directory missing"


@dataclass
class FilesReport:
    files_scanned: int = 0
    files_unchanged: int = 0
    files_touched: int = 0  # mtime moved, content identical
    files_parsed: int = 0
    files_added: int = 0
    files_deleted: int = 0
    nodes_added: int = 0
    nodes_changed: int = 0
    nodes_removed: int = 0
    nodes_marked: int = 0
    parse_errors: int = 0  # files parsed with syntax errors (their nodes still count)
    problems: dict[str, str] = field(default_factory=dict)  # skipped files and why
    changed_paths: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    markdown_missing: bool = False  # every node was marked to write its markdown again


def _files_under_changed_packages(
    candidates: list[FileStat], deleted: list[str], index: dict[str, IndexedFile]
) -> set[str]:
    markers = [c.path for c in candidates if c.path not in index] + deleted
    dirs = [
        m.rsplit("/", 1)[0] if "/" in m else ""
        for m in markers
        if m.rsplit("/", 1)[-1] == "__init__.py"
    ]
    if not dirs:
        return set()
    return {p for p in index if any(d == "" or p.startswith(d + "/") for d in dirs)}


def takes_first_build_paths(index: dict[str, IndexedFile]) -> bool:
    """Nothing of the repository is indexed: its build may take the first-build paths
    (rows encoded by the workers, marks set in the server, no caller lookups). They give
    what the general paths give (tests/hub/test_first_build.py switches them off)."""
    return not index


def load_file_index(conn: psycopg.Connection[Any], repo: str) -> dict[str, IndexedFile]:
    """``hub_files`` of one repository: what its files looked like when last read."""
    rows = conn.execute(
        "SELECT path, mtime_ns, size, content_hash FROM hub_files WHERE repo = %s", (repo,)
    )
    return {r[0]: IndexedFile(r[1], r[2], r[3]) for r in rows}


def indexed_paths(conn: psycopg.Connection[Any], repo: str, paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` the repository's index knows."""
    rows = conn.execute(
        "SELECT path FROM hub_files WHERE repo = %s AND path = ANY(%s)", (repo, list(paths))
    )
    return {r[0] for r in rows}


@dataclass
class _Reads:
    """Stage 1a's outcome: which candidate files really changed, and which only moved."""

    to_parse: list[FileStat] = field(default_factory=list)
    touched: list[FileStat] = field(default_factory=list)  # mtime moved, same content
    deleted: list[str] = field(default_factory=list)


def _scan(
    root: Path,
    index: dict[str, IndexedFile],
    changed_paths: Sequence[str] | None,
    report: FilesReport,
    walked: Sequence[FileStat | tuple[str, str]] | None = None,
) -> tuple[_Reads, list[ReadRequest]]:
    """1a. stat every file (or the change set): what looks changed is read (and hashed,
    and parsed if its content is new) by the parse workers."""
    rules = IgnoreRules.for_repo(root)
    if changed_paths is not None:
        found: Iterable[FileStat | str | tuple[str, str]] = stat_paths(root, changed_paths, rules)
    else:
        found = walked if walked is not None else walk_source_files(root, rules)
    scan = compare_with_index(found, index, full_scan=changed_paths is None)
    report.files_scanned = scan.scanned
    report.files_unchanged = scan.unchanged
    report.problems.update(scan.problems)
    reads = _Reads(deleted=list(scan.deleted))

    # A package marker that came or went renames every module beneath it.
    forced = _files_under_changed_packages(scan.candidates, reads.deleted, index)
    candidates = list(scan.candidates)
    listed = {c.path for c in candidates}
    for path in sorted(forced - listed - set(reads.deleted)):
        try:
            info = (root / path).stat()
        except OSError:
            reads.deleted.append(path)
            continue
        candidates.append(FileStat(path, info.st_mtime_ns, info.st_size))
    requests = []
    for st in candidates:
        known = index.get(st.path)
        requests.append(
            ReadRequest(
                st,
                language_for_path(st.path) or "",
                known.content_hash if known is not None and st.path not in forced else None,
            )
        )
    return reads, requests


def _sort_result(
    result: FileResult, reads: _Reads, index: dict[str, IndexedFile], report: FilesReport
) -> None:
    """What one read found, in the report and in ``reads``."""
    if result.outcome == TOUCHED:
        reads.touched.append(result.stat)
    elif result.outcome == VANISHED:
        report.problems[result.stat.path] = result.problem
        if result.stat.path in index:
            reads.deleted.append(result.stat.path)
    elif result.outcome == UNREADABLE:
        report.problems[result.stat.path] = result.problem
    else:
        reads.to_parse.append(result.stat)
        if result.status in SKIPPED_STATUSES:
            assert result.status is not None
            report.problems[result.stat.path] = f"{result.status.value}: {result.error}"
        elif result.status == FileStatus.SYNTAX_ERROR:
            report.parse_errors += 1


def _count_parse_outcomes(
    reads: _Reads, index: dict[str, IndexedFile], report: FilesReport
) -> None:
    report.files_parsed = len(reads.to_parse)
    report.files_added = sum(1 for st in reads.to_parse if st.path not in index)
    report.files_deleted = len(reads.deleted)
    report.files_touched = len(reads.touched)
    report.changed_paths = sorted([st.path for st in reads.to_parse] + reads.deleted)


#: what the index knew of a node before this run: name, kind, is_test, source hash, full
#: name, file
_OldNode = tuple[str, str, bool, str, str, str]


def _marks_for_changes(
    conn: psycopg.Connection[Any],
    repo: str,
    new: dict[str, NodeFacts],
    old: dict[str, _OldNode],
    added: set[str],
    removed: list[str],
    affected_files: list[str],
    *,
    first_build: bool,
) -> set[str]:
    """1c. Who must be re-derived: the changed nodes, every caller that mentions a name
    whose set of definitions changed, and what tests that came or went point at."""
    marks = set(new) | set(removed)
    # A kept node whose module was renamed (package marker change) counts as both.
    renamed = {i for i, n in new.items() if i in old and old[i][4] != n.full_name}
    delta_names = sorted(
        {n.name for i, n in new.items() if (i in added or i in renamed) and n.kind != "module"}
        | {old[i][0] for i in removed if old[i][1] != "module"}
    )
    if first_build:
        pass  # every node of the repository is new, hence already marked
    elif len(delta_names) <= LARGE_DELTA:
        rows: Any = (
            conn.execute(
                "SELECT node_id FROM hub_nodes WHERE repo = %s AND call_names && %s::text[]",
                (repo, delta_names),
            )
            if delta_names
            else []
        )
        marks |= {r[0] for r in rows}
    else:
        # An overlap test against thousands of names is slow in SQL; the nodes outside
        # the changed files are few when the delta is this large.
        wanted = set(delta_names)
        rows = conn.execute(
            "SELECT node_id, call_names FROM hub_nodes "
            "WHERE repo = %s AND NOT (file_path = ANY(%s))",
            (repo, affected_files),
        )
        marks |= {r[0] for r in rows if not wanted.isdisjoint(r[1])}
    test_targets = sorted(
        {t for i in added if new[i].is_test for t in tested_names(new[i].name)}
        | {t for i in removed if old[i][2] for t in tested_names(old[i][0])}
    )
    if test_targets and not first_build:
        rows = conn.execute(
            "SELECT node_id FROM hub_nodes WHERE repo = %s AND name = ANY(%s) AND NOT is_test",
            (repo, test_targets),
        )
        marks |= {r[0] for r in rows}
    return marks


def _load_old_nodes(
    conn: psycopg.Connection[Any], repo: str, paths: list[str]
) -> dict[str, _OldNode]:
    if not paths:
        return {}
    rows = conn.execute(
        "SELECT node_id, name, kind, is_test, extract->>'source_hash', full_name, file_path "
        "FROM hub_nodes WHERE repo = %s AND file_path = ANY(%s)",
        (repo, paths),
    )
    return {r[0]: (r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}


def refresh_files(
    store: Store,
    root: Path,
    *,
    repo: str,
    changed_paths: Sequence[str] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
    walked: Sequence[FileStat | tuple[str, str]] | None = None,
) -> FilesReport:
    """``changed_paths`` (repo-relative) skips the scan; None scans the whole repository.
    ``walked``: that whole-repository walk (``walk_source_files``, same root and ignore
    rules) as a caller just made it (``hub.unchanged``), compared here with the index
    instead of walking the tree again.

    Only rows of ``repo`` are read or written: another repository in the same store is
    never seen as deleted, renamed or called. Parsed files stream into the index batch by
    batch: the main process never holds every file's nodes at once.
    """
    started = time.perf_counter()
    report = FilesReport()
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    with store.transaction() as conn:
        dirty.stage_lock(conn, repo)
        index = load_file_index(conn, repo)
        # Nothing indexed yet: every node is new, no row can conflict, no caller elsewhere.
        first_build = takes_first_build_paths(index)
        if not first_build and not (root / NODES_DIR).is_dir():
            # no file changed, yet the user has no markdown: the directory was deleted, or
            # this is a fresh clone of a moved checkout (repos.registration)
            dirty.mark_every_node(conn, repo, dirty.MARKDOWN, MARKDOWN_MISSING)
            report.markdown_missing = True
        reads, requests = _scan(root, index, changed_paths, report, walked)
        # Every node a candidate file had (a touched or unreadable file keeps its nodes:
        # only files parsed or deleted below count).
        old_all = _load_old_nodes(conn, repo, [r.stat.path for r in requests] + reads.deleted)

        # 1b. read, parse and write what changed, batch by batch
        new: dict[str, NodeFacts] = {}
        kept_rows: list[tuple[Any, ...]] = []  # nodes the index knew: upserted at the end
        file_rows: list[tuple[Any, ...]] = []
        # On a first build every node is new (no old row can exist without its file's
        # index row), so the workers encode the rows for a binary COPY (copy_binary).
        for batch in read_files(
            root, requests, max_file_bytes, workers, repo, encode=first_build and not old_all
        ):
            # A new node's "before" (state_source) is its own source: left NULL, which
            # readers take as "same as source" (a copy of every source cost the server
            # ~0.5 s and 50 MB on a cold build of Django)
            fresh_rows: list[tuple[Any, ...]] = []
            encoded: list[bytes] = []
            for result in batch:
                _sort_result(result, reads, index, report)
                if result.file_row is None:
                    continue
                file_rows.append(result.file_row)
                new.update((n.node_id, n) for n in result.nodes)
                if result.node_copy:
                    encoded.append(result.node_copy)
                for row in result.node_rows:
                    (kept_rows if row[1] in old_all else fresh_rows).append(row)
            del batch
            bulk_insert(conn, "hub_nodes", NODE_COLUMNS, fresh_rows)
            copy_binary(conn, "hub_nodes", NODE_COLUMNS, encoded)
        _count_parse_outcomes(reads, index, report)
        affected_files = [st.path for st in reads.to_parse] + reads.deleted
        affected_set = set(affected_files)
        old = {i: o for i, o in old_all.items() if o[5] in affected_set}
        added = {i for i in new if i not in old}
        removed = sorted(i for i in old if i not in new)
        report.nodes_added, report.nodes_removed = len(added), len(removed)
        report.nodes_changed = sum(
            1 for i, n in new.items() if i in old and old[i][3] != n.source_hash
        )

        # kept nodes whose source moves on: their "before" must be kept (see _write_index)
        moved_on = [i for i, n in new.items() if i in old_all and old_all[i][3] != n.source_hash]
        _write_index(conn, repo, file_rows, kept_rows, reads, removed, moved_on)
        marks = _marks_for_changes(
            conn, repo, new, old, added, removed, affected_files, first_build=first_build
        )
        if first_build and marks == set(new):
            # every node of the repository, marked in the server: no 44k-id array to ship
            dirty.mark_every_node(conn, repo, dirty.STATE, "files changed", renew=True)
        else:
            dirty.mark_dirty(conn, repo, dirty.STATE, sorted(marks), "files changed")
        report.nodes_marked = len(marks)
    report.duration_s = time.perf_counter() - started
    return report


def _write_index(
    conn: psycopg.Connection[Any],
    repo: str,
    file_rows: list[tuple[Any, ...]],
    kept_rows: list[tuple[Any, ...]],
    reads: _Reads,
    removed: list[str],
    moved_on: list[str],
) -> None:
    """1c. the rest of the index rows of changed files, in bulk (COPY + set-based upserts);
    new nodes were copied in as their files were parsed."""
    bulk_upsert(conn, "hub_files", FILE_COLUMNS, file_rows, key=["repo", "path"])
    if reads.touched:
        t = reads.touched
        conn.execute(
            "UPDATE hub_files f SET mtime_ns = t.m, size = t.s FROM "
            "unnest(%s::text[], %s::bigint[], %s::bigint[]) AS t(p, m, s) "
            "WHERE f.repo = %s AND f.path = t.p",
            ([x.path for x in t], [x.mtime_ns for x in t], [x.size for x in t], repo),
        )
    if removed:
        conn.execute("DELETE FROM hub_nodes WHERE repo = %s AND node_id = ANY(%s)", (repo, removed))
    if reads.deleted:
        conn.execute(
            "DELETE FROM hub_files WHERE repo = %s AND path = ANY(%s)", (repo, reads.deleted)
        )
    if moved_on:
        # A kept node keeps the source its state was derived from until stage 2 has diffed
        # against it: a NULL "before" (same as source) becomes that source before the
        # source moves on (an unchanged node of an edited file keeps its NULL).
        conn.execute(
            "UPDATE hub_nodes SET state_source = source "
            "WHERE repo = %s AND node_id = ANY(%s) AND state_source IS NULL",
            (repo, moved_on),
        )
    bulk_upsert(conn, "hub_nodes", NODE_COLUMNS, kept_rows, key=["node_id"])
