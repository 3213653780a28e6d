"""Stage 3 on a first build: every node's markdown written into a fresh directory that is
then renamed into place as ``.agentfs/nodes``.

Nobody can read a directory that does not exist yet, so its files need no temp file and
rename each (the per-file path's atomic write), and each directory is made once. The swap
is the atomic step: a run killed before it leaves no ``nodes`` directory (what was there
before: nothing) and a staging directory that the next run sweeps; the marks, cleared in
the transaction that follows the rename, make the next run finish either way.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import set_json_loads
from pydantic_core import from_json

from kgents_assets.hub import dirty
from kgents_assets.hub.generated_tests import last_generated_tests
from kgents_assets.hub.markdown import NODES_DIR, StateView, render_markdown
from kgents_assets.hub.state_store import KEY_PREFIX, KEY_SUFFIX, node_id_of_key

#: Fewer marks than this go file by file: a small first build is quick either way.
SWAP_THRESHOLD = 2000
BATCH = 2000
SAMPLES = 5  # paths the report shows
WRITERS = 4  # file creation is syscall-bound and releases the GIL
_STAGING_GLOB = ".nodes-*.tmp"
_FILE_MODE = 0o644  # what the atomic writer gives a file


def sweep_staging(root: Path) -> None:
    """Remove staging directories a killed first build left behind (call it holding the
    repository's stage lock: a live first build holds it until its rename)."""
    agentfs = root / NODES_DIR.parent
    if agentfs.is_dir():
        for stale in agentfs.glob(_STAGING_GLOB):
            shutil.rmtree(stale, ignore_errors=True)


def can_swap(root: Path, marks: Mapping[str, str]) -> bool:
    """Many nodes to write, no ``nodes`` directory yet, and nothing to remove."""
    return (
        len(marks) >= SWAP_THRESHOLD
        and not os.path.lexists(root / NODES_DIR)
        and not any(reason.startswith(dirty.REMOVED_PREFIX) for reason in marks.values())
    )


#: files handed to a writer thread at once: one submit per file cost more than the write
CHUNK = 64


def _write_all(files: list[tuple[str, str]]) -> None:
    for path, text in files:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)


def write_and_swap(
    conn: psycopg.Connection[Any], root: Path, repo: str, ids: list[str]
) -> tuple[int, list[str], str]:
    """Write the markdown of ``ids`` (sorted) into a staging directory, rename it into
    place and clear their marks in ``conn``'s transaction. Returns (files written, the
    first few paths, the first file's text)."""
    sweep_staging(root)
    staging = root / NODES_DIR.parent / f".nodes-{os.getpid()}.tmp"
    staging.mkdir(parents=True)
    prefix = NODES_DIR.as_posix() + "/"
    base = str(staging) + "/"
    made = {base}
    written = 0
    first: tuple[str, str] | tuple[()] = ()
    samples: list[tuple[str, str]] = []  # (id, path) of the SAMPLES smallest ids so far
    pending: list[Future[None]] = []
    stamps: dict[str, datetime] = {}
    wanted = set(ids)
    try:
        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            for rows in _stream_states(conn, repo):
                states = {
                    node_id: value
                    for node_id, value in ((node_id_of_key(k), v) for k, v in rows)
                    if node_id in wanted  # no state, not a removal: nothing to write
                }
                del rows
                generated = last_generated_tests(conn, states)
                chunk: list[tuple[str, str]] = []
                for node_id, data in states.items():
                    text = render_markdown(StateView(data, stamps), generated.get(node_id))
                    rel: str = data["markdown_path"]
                    if not rel.startswith(prefix):
                        raise ValueError(f"markdown path outside {prefix}: {rel!r}")
                    path = base + rel[len(prefix) :]
                    parent = path.rsplit("/", 1)[0] + "/"
                    if parent not in made:
                        Path(parent).mkdir(parents=True, exist_ok=True)
                        made.add(parent)
                    chunk.append((path, text))
                    if len(chunk) >= CHUNK:
                        pending.append(pool.submit(_write_all, chunk))
                        chunk = []
                    written += 1
                    # the report's samples: the first nodes by id, whatever the storage order
                    if len(samples) < SAMPLES or node_id < samples[-1][0]:
                        samples = sorted([*samples, (node_id, rel)])[:SAMPLES]
                    if not first or node_id < first[0]:
                        first = (node_id, text)
                if chunk:
                    pending.append(pool.submit(_write_all, chunk))
                # a failed write fails the run before the swap; a batch at a time bounds
                # the texts waiting for a writer
                for write in pending:
                    write.result()
                pending.clear()
        staging.rename(root / NODES_DIR)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    dirty.clear_marks(conn, repo, dirty.MARKDOWN, ids)
    return written, [rel for _, rel in samples], first[1] if first else ""


def _stream_states(
    conn: psycopg.Connection[Any], repo: str
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every stored state of ``repo``, batch by batch from a server-side cursor of the
    caller's transaction (no key array per batch), in storage order; decoded by
    pydantic-core rather than the json module (same values, a third of the time)."""
    with conn.cursor(name="markdown_states") as cur:
        set_json_loads(from_json, cur)
        cur.execute(
            "SELECT key, value FROM kv WHERE repo = %s AND key LIKE %s",
            (repo, f"{KEY_PREFIX}%{KEY_SUFFIX}"),
        )
        while rows := cur.fetchmany(BATCH):
            yield rows
