"""Stage 3 (asset ``node_markdown``): write the markdown of every node whose state changed.

Files are written atomically before their marks are cleared: a run killed midway leaves
either the old or the new file for each node, and its marks make the next run finish. A
first build of many nodes writes a fresh directory and renames it into place instead
(``markdown_swap``): the same files, without a temp file and a rename per file.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kgents_assets.fs.atomic import atomic_write_text
from kgents_assets.hub import dirty
from kgents_assets.hub.generated_tests import last_generated_tests
from kgents_assets.hub.markdown import remove_markdown, render_markdown
from kgents_assets.hub.markdown_swap import can_swap, sweep_staging, write_and_swap
from kgents_assets.hub.models import trusted_node_state
from kgents_assets.hub.state_store import node_id_of_key, state_key
from kgents_assets.store import Store

BATCH = 2000
WRITERS = 4  # file creation is syscall-bound and releases the GIL
PREVIEW_CHARS = 1500


@dataclass
class MarkdownReport:
    written: int = 0
    removed: int = 0
    swapped: bool = False  # written into a fresh directory renamed into place
    duration_s: float = 0.0
    preview: str = ""
    sample_paths: list[str] = field(default_factory=list)


def _sweep_stale_temp_files(directories: set[Path]) -> None:
    """Remove temp files a killed run left where this run is about to write."""
    for directory in directories:
        for stale in directory.glob(".*.md.*.tmp"):
            stale.unlink(missing_ok=True)


def refresh_markdown(store: Store, root: Path, *, repo: str) -> MarkdownReport:
    """Write ``repo``'s changed markdown under ``root`` (its checkout)."""
    started = time.perf_counter()
    report = MarkdownReport()
    with store.connect() as conn:
        marks = dirty.dirty_marks(conn, repo, dirty.MARKDOWN)
    ids = sorted(marks)
    if can_swap(root, marks):
        with store.transaction() as conn:
            dirty.stage_lock(conn, repo)
            marks = dirty.dirty_marks(conn, repo, dirty.MARKDOWN)  # as of the lock
            if can_swap(root, marks):
                ids = sorted(marks)
                report.written, report.sample_paths, first = write_and_swap(conn, root, repo, ids)
                report.preview = first[:PREVIEW_CHARS]
                report.swapped = True
                report.duration_s = time.perf_counter() - started
                return report
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        _write_batches(store, root, repo, marks, ids, pool, report)
    report.duration_s = time.perf_counter() - started
    return report


def _write_batches(
    store: Store,
    root: Path,
    repo: str,
    marks: dict[str, str],
    ids: list[str],
    pool: ThreadPoolExecutor,
    report: MarkdownReport,
) -> None:
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        with store.transaction() as conn:
            dirty.stage_lock(conn, repo)
            if start == 0:
                sweep_staging(root)
            states = {
                node_id_of_key(key): value
                for key, value in conn.execute(
                    "SELECT key, value FROM kv WHERE key = ANY(%s)",
                    ([state_key(i) for i in batch],),
                )
            }
            _sweep_stale_temp_files({(root / v["markdown_path"]).parent for v in states.values()})
            generated = last_generated_tests(conn, states)
            writes = []
            for node_id in batch:
                reason = marks[node_id]
                if node_id in states:
                    state = trusted_node_state(states[node_id])
                    text = render_markdown(state, generated.get(node_id))
                    writes.append(pool.submit(atomic_write_text, root / state.markdown_path, text))
                    report.written += 1
                    if len(report.sample_paths) < 5:
                        report.sample_paths.append(state.markdown_path)
                    if not report.preview:
                        report.preview = text[:PREVIEW_CHARS]
                elif reason.startswith(dirty.REMOVED_PREFIX):
                    remove_markdown(root, reason.removeprefix(dirty.REMOVED_PREFIX))
                    report.removed += 1
            for write in writes:
                write.result()  # a failed write keeps the batch's marks for the next run
            dirty.clear_marks(conn, repo, dirty.MARKDOWN, batch)
