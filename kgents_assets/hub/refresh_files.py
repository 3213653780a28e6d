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
from kgents_assets.hub.node_ids import content_hash
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
    root: str, items: list[tuple[str, bytes, str]], max_bytes: int
) -> list[FileExtract]:
    is_pkg = package_dir_checker(Path(root))
    return [extract_source(rel, data, lang, is_pkg, max_bytes) for rel, data, lang in items]


def parse_files(
    root: Path, items: list[tuple[str, bytes, str]], max_bytes: int, workers: int
) -> list[FileExtract]:
    if workers <= 1 or len(items) < PARALLEL_THRESHOLD:
        return _parse_batch(str(root), items, max_bytes)
    chunk = max(1, len(items) // (workers * 8))
    batches = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_parse_batch, str(root), b, max_bytes) for b in batches]
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


def _load_index(conn: psycopg.Connection[Any]) -> dict[str, IndexedFile]:
    rows = conn.execute("SELECT path, mtime_ns, size, content_hash FROM hub_files")
    return {r[0]: IndexedFile(r[1], r[2], r[3]) for r in rows}


def refresh_files(
    store: Store,
    root: Path,
    *,
    changed_paths: Sequence[str] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None,
) -> FilesReport:
    """``changed_paths`` (repo-relative) skips the scan; None scans the whole repository."""
    started = time.perf_counter()
    report = FilesReport()
    rules = IgnoreRules.for_repo(root)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    with store.transaction() as conn:
        dirty.stage_lock(conn, "files")
        index = _load_index(conn)
        found = (
            walk_source_files(root, rules)
            if changed_paths is None
            else stat_paths(root, changed_paths, rules)
        )
        scan = compare_with_index(found, index, full_scan=changed_paths is None)
        report.files_scanned = scan.scanned
        report.files_unchanged = scan.unchanged
        report.problems.update(scan.problems)
        deleted = list(scan.deleted)

        # A package marker that came or went renames every module beneath it.
        forced = _files_under_changed_packages(scan.candidates, deleted, index)
        candidates = list(scan.candidates)
        listed = {c.path for c in candidates}
        for path in sorted(forced - listed - set(deleted)):
            try:
                info = (root / path).stat()
            except OSError:
                deleted.append(path)
                continue
            candidates.append(FileStat(path, info.st_mtime_ns, info.st_size))

        touched: list[FileStat] = []
        to_parse: list[_Read] = []
        for st in candidates:
            try:
                data = (root / st.path).read_bytes()
            except FileNotFoundError:
                report.problems[st.path] = FileStatus.VANISHED.value + ": deleted during the scan"
                if st.path in index:
                    deleted.append(st.path)
                continue
            except OSError as exc:
                report.problems[st.path] = f"{FileStatus.UNREADABLE.value}: {exc.strerror}"
                continue
            digest = content_hash(data)
            known = index.get(st.path)
            if known is not None and known.content_hash == digest and st.path not in forced:
                touched.append(st)
            else:
                to_parse.append(_Read(st, data, digest))

        extracts = parse_files(
            root,
            [(r.stat.path, r.data, language_for_path(r.stat.path) or "") for r in to_parse],
            max_file_bytes,
            workers,
        )
        for extract in extracts:
            if extract.status in SKIPPED_STATUSES:
                report.problems[extract.path] = f"{extract.status.value}: {extract.error}"
            elif extract.status == FileStatus.SYNTAX_ERROR:
                report.parse_errors += 1
        report.files_parsed = len(extracts)
        report.files_added = sum(1 for r in to_parse if r.stat.path not in index)
        report.files_deleted = len(deleted)
        report.files_touched = len(touched)
        report.changed_paths = sorted([r.stat.path for r in to_parse] + deleted)

        affected_files = [r.stat.path for r in to_parse] + deleted
        old_rows = (
            conn.execute(
                "SELECT node_id, name, kind, is_test, extract->>'source_hash', full_name "
                "FROM hub_nodes "
                "WHERE file_path = ANY(%s)",
                (affected_files,),
            ).fetchall()
            if affected_files
            else []
        )
        old = {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in old_rows}
        new_nodes = [n for e in extracts for n in e.nodes]
        new = {n.node_id: n for n in new_nodes}
        added = {i for i in new if i not in old}
        removed = sorted(i for i in old if i not in new)
        report.nodes_added, report.nodes_removed = len(added), len(removed)
        report.nodes_changed = sum(
            1 for i, n in new.items() if i in old and old[i][3] != n.source_hash
        )

        _write_index(conn, extracts, to_parse, touched, deleted, removed, added)

        # Who must be re-derived. Names whose set of definitions changed re-resolve every
        # caller that mentions them; tests that came or went re-link what they name.
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
                    "SELECT node_id FROM hub_nodes WHERE call_names && %s::text[]", (delta_names,)
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
                "SELECT node_id, call_names FROM hub_nodes WHERE NOT (file_path = ANY(%s))",
                (affected_files,),
            )
            marks |= {r[0] for r in rows if not wanted.isdisjoint(r[1])}
        test_targets = sorted(
            {t for i in added if new[i].is_test for t in tested_names(new[i].name)}
            | {t for i in removed if old[i][2] for t in tested_names(old[i][0])}
        )
        if test_targets:
            rows = conn.execute(
                "SELECT node_id FROM hub_nodes WHERE name = ANY(%s) AND NOT is_test",
                (test_targets,),
            )
            marks |= {r[0] for r in rows}
        dirty.mark_dirty(conn, dirty.STATE, sorted(marks), "files changed")
        report.nodes_marked = len(marks)
    report.duration_s = time.perf_counter() - started
    return report


def _write_index(
    conn: psycopg.Connection[Any],
    extracts: list[FileExtract],
    parsed: list[_Read],
    touched: list[FileStat],
    deleted: list[str],
    removed: list[str],
    added: set[str],
) -> None:
    digests = {r.stat.path: r for r in parsed}
    file_rows = []
    for e in extracts:
        read = digests[e.path]
        file_rows.append(
            (
                e.path,
                read.stat.mtime_ns,
                read.stat.size,
                read.digest,
                e.language,
                e.status.value,
                e.error,
                e.module,
                json.dumps(e.imports),
            )
        )
    bulk_upsert(
        conn,
        "hub_files",
        [
            "path",
            "mtime_ns",
            "size",
            "content_hash",
            "language",
            "status",
            "error",
            "module",
            "imports",
        ],
        file_rows,
        key=["path"],
    )
    if touched:
        conn.execute(
            "UPDATE hub_files f SET mtime_ns = t.m, size = t.s FROM "
            "unnest(%s::text[], %s::bigint[], %s::bigint[]) AS t(p, m, s) WHERE f.path = t.p",
            ([t.path for t in touched], [t.mtime_ns for t in touched], [t.size for t in touched]),
        )
    if removed:
        conn.execute("DELETE FROM hub_nodes WHERE node_id = ANY(%s)", (removed,))
    if deleted:
        conn.execute("DELETE FROM hub_files WHERE path = ANY(%s)", (deleted,))
    node_rows = [
        (
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
    columns = [
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
    # A new node's "before" is its own source; a kept node keeps the source its state
    # was derived from until stage 2 has diffed against it.
    bulk_insert(
        conn,
        "hub_nodes",
        [*columns, "state_source"],
        ((*row, row[8]) for row in node_rows if row[0] in added),
    )
    bulk_upsert(
        conn,
        "hub_nodes",
        columns,
        (row for row in node_rows if row[0] not in added),
        key=["node_id"],
    )
