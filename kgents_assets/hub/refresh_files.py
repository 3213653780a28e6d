"""Stage 1 (asset ``code_nodes``): bring the node index in line with the files on disk.

Reads only what looks changed, parses only what is, rewrites the index rows of those files
and marks for stage 2 every node whose state may now differ: the nodes of changed files,
removed nodes, callers whose call names gained or lost a definition, and code whose
convention-named tests came or went.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from kgents_assets.hub import dirty
from kgents_assets.hub.discovery import (
    DEFAULT_MAX_FILE_BYTES,
    extract_source,
    package_dir_checker,
)
from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.languages import language_for_path
from kgents_assets.hub.models import SKIPPED_STATUSES, CodeNode, FileExtract, FileStatus
from kgents_assets.hub.node_ids import content_hash, qualify_node_id
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

PARALLEL_THRESHOLD = 200  # below this many files a process pool costs more than it saves
LARGE_DELTA = 500  # names; past this, match callers in Python (see below)


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


@dataclass
class _Read:
    stat: FileStat
    data: bytes
    digest: str


def _parse_batch(
    root: str, items: list[tuple[str, bytes, str]], max_bytes: int, repo: str
) -> list[FileExtract]:
    is_pkg = package_dir_checker(Path(root))
    extracts = [extract_source(rel, data, lang, is_pkg, max_bytes) for rel, data, lang in items]
    for extract in extracts:
        extract.nodes = [
            n.model_copy(update={"node_id": qualify_node_id(repo, n.node_id)})
            for n in extract.nodes
        ]
    return extracts


def parse_files(
    root: Path, items: list[tuple[str, bytes, str]], max_bytes: int, workers: int, repo: str
) -> list[FileExtract]:
    if workers <= 1 or len(items) < PARALLEL_THRESHOLD:
        return _parse_batch(str(root), items, max_bytes, repo)
    chunk = max(1, len(items) // (workers * 8))
    batches = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_parse_batch, str(root), b, max_bytes, repo) for b in batches]
        return [extract for f in futures for extract in f.result()]


def call_names(node: CodeNode, imports: dict[str, str]) -> list[str]:
    """Every name a definition must have to be one of this node's callees."""
    names = {ref.name for ref in node.calls}
    names |= {imports[r.name].rsplit(".", 1)[-1] for r in node.calls if r.name in imports}
    return sorted(names)


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

    to_parse: list[_Read] = field(default_factory=list)
    touched: list[FileStat] = field(default_factory=list)  # mtime moved, same content
    deleted: list[str] = field(default_factory=list)


def _scan(
    root: Path,
    index: dict[str, IndexedFile],
    changed_paths: Sequence[str] | None,
    report: FilesReport,
) -> _Reads:
    """1a. stat every file (or the change set), hash only what looks changed."""
    rules = IgnoreRules.for_repo(root)
    found = (
        walk_source_files(root, rules)
        if changed_paths is None
        else stat_paths(root, changed_paths, rules)
    )
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

    for st in candidates:
        try:
            data = (root / st.path).read_bytes()
        except FileNotFoundError:
            report.problems[st.path] = FileStatus.VANISHED.value + ": deleted during the scan"
            if st.path in index:
                reads.deleted.append(st.path)
            continue
        except OSError as exc:
            report.problems[st.path] = f"{FileStatus.UNREADABLE.value}: {exc.strerror}"
            continue
        digest = content_hash(data)
        known = index.get(st.path)
        if known is not None and known.content_hash == digest and st.path not in forced:
            reads.touched.append(st)
        else:
            reads.to_parse.append(_Read(st, data, digest))
    return reads


def _count_parse_outcomes(
    extracts: list[FileExtract], reads: _Reads, index: dict[str, IndexedFile], report: FilesReport
) -> None:
    for extract in extracts:
        if extract.status in SKIPPED_STATUSES:
            report.problems[extract.path] = f"{extract.status.value}: {extract.error}"
        elif extract.status == FileStatus.SYNTAX_ERROR:
            report.parse_errors += 1
    report.files_parsed = len(extracts)
    report.files_added = sum(1 for r in reads.to_parse if r.stat.path not in index)
    report.files_deleted = len(reads.deleted)
    report.files_touched = len(reads.touched)
    report.changed_paths = sorted([r.stat.path for r in reads.to_parse] + reads.deleted)


#: what the index knew of a node before this run: name, kind, is_test, source hash, full name
_OldNode = tuple[str, str, bool, str, str]


def _marks_for_changes(
    conn: psycopg.Connection[Any],
    repo: str,
    new: dict[str, CodeNode],
    old: dict[str, _OldNode],
    added: set[str],
    removed: list[str],
    affected_files: list[str],
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
    if len(delta_names) <= LARGE_DELTA:
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
        # the changed files are few when the delta is this large (a cold build: none).
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
    if test_targets:
        rows = conn.execute(
            "SELECT node_id FROM hub_nodes WHERE repo = %s AND name = ANY(%s) AND NOT is_test",
            (repo, test_targets),
        )
        marks |= {r[0] for r in rows}
    return marks


def refresh_files(
    store: Store,
    root: Path,
    *,
    repo: str,
    changed_paths: Sequence[str] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
) -> FilesReport:
    """``changed_paths`` (repo-relative) skips the scan; None scans the whole repository.

    Only rows of ``repo`` are read or written: another repository in the same store is
    never seen as deleted, renamed or called.
    """
    started = time.perf_counter()
    report = FilesReport()
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    with store.transaction() as conn:
        dirty.stage_lock(conn, repo)
        index = load_file_index(conn, repo)
        reads = _scan(root, index, changed_paths, report)

        # 1b. parse what changed and compare its nodes with the index
        extracts = parse_files(
            root,
            [(r.stat.path, r.data, language_for_path(r.stat.path) or "") for r in reads.to_parse],
            max_file_bytes,
            workers,
            repo,
        )
        _count_parse_outcomes(extracts, reads, index, report)
        affected_files = [r.stat.path for r in reads.to_parse] + reads.deleted
        old_rows = (
            conn.execute(
                "SELECT node_id, name, kind, is_test, extract->>'source_hash', full_name "
                "FROM hub_nodes WHERE repo = %s AND file_path = ANY(%s)",
                (repo, affected_files),
            ).fetchall()
            if affected_files
            else []
        )
        old: dict[str, _OldNode] = {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in old_rows}
        new = {n.node_id: n for e in extracts for n in e.nodes}
        added = {i for i in new if i not in old}
        removed = sorted(i for i in old if i not in new)
        report.nodes_added, report.nodes_removed = len(added), len(removed)
        report.nodes_changed = sum(
            1 for i, n in new.items() if i in old and old[i][3] != n.source_hash
        )

        _write_index(conn, repo, extracts, reads, removed, added)
        marks = _marks_for_changes(conn, repo, new, old, added, removed, affected_files)
        dirty.mark_dirty(conn, repo, dirty.STATE, sorted(marks), "files changed")
        report.nodes_marked = len(marks)
    report.duration_s = time.perf_counter() - started
    return report


_FILE_COLUMNS = [
    "repo",
    "path",
    "mtime_ns",
    "size",
    "content_hash",
    "language",
    "status",
    "error",
    "module",
    "imports",
]
_NODE_COLUMNS = [
    "repo",
    "node_id",
    "file_path",
    "kind",
    "name",
    "qualname",
    "full_name",
    "class_name",
    "is_test",
    "source",
    "call_names",
    "tested_names",
    "extract",
]
_SOURCE = _NODE_COLUMNS.index("source")


def _write_index(
    conn: psycopg.Connection[Any],
    repo: str,
    extracts: list[FileExtract],
    reads: _Reads,
    removed: list[str],
    added: set[str],
) -> None:
    """1c. the index rows of changed files, in bulk (COPY + one set-based upsert)."""
    digests = {r.stat.path: r for r in reads.to_parse}
    file_rows = [
        (
            repo,
            e.path,
            digests[e.path].stat.mtime_ns,
            digests[e.path].stat.size,
            digests[e.path].digest,
            e.language,
            e.status.value,
            e.error,
            e.module,
            json.dumps(e.imports),
        )
        for e in extracts
    ]
    bulk_upsert(conn, "hub_files", _FILE_COLUMNS, file_rows, key=["repo", "path"])
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
    node_rows = [
        (
            repo,
            n.node_id,
            n.file_path,
            n.kind,
            n.name,
            n.qualname,
            n.full_name,
            n.class_name,
            n.is_test,
            n.source,
            call_names(n, e.imports),
            tested_names(n.name) if n.is_test and n.kind != "module" else [],
            n.model_dump_json(exclude={"source"}),
        )
        for e in extracts
        for n in e.nodes
    ]
    # A new node's "before" is its own source; a kept node keeps the source its state
    # was derived from until stage 2 has diffed against it.
    bulk_insert(
        conn,
        "hub_nodes",
        [*_NODE_COLUMNS, "state_source"],
        ((*row, row[_SOURCE]) for row in node_rows if row[1] in added),
    )
    bulk_upsert(
        conn,
        "hub_nodes",
        _NODE_COLUMNS,
        (row for row in node_rows if row[1] not in added),
        key=["node_id"],
    )
