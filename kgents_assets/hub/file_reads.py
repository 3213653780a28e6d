"""Stage 1's per-file work, run in parse workers: read, hash, parse, and build index rows.

A worker returns what the index stores (ready-made ``hub_files``/``hub_nodes`` rows) and a
few facts per node for the change marks, never the parsed models: the main process then
only streams rows into COPY and keeps no file's bytes, no source and no parse tree.
Reading and hashing happen here too, so a cold build never holds the repository's bytes
in the main process (nor pickles them to the workers).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pydantic_core import to_json

from kgents_assets.hub.copy_binary import BOOL, JSONB, TEXT, TEXT_ARRAY, RowEncoder
from kgents_assets.hub.discovery import discover, package_dir_checker
from kgents_assets.hub.extract_common import NodeFields
from kgents_assets.hub.models import CallRef, FileStatus
from kgents_assets.hub.node_ids import content_hash, qualify_node_id
from kgents_assets.hub.scan import FileStat
from kgents_assets.hub.test_files import tested_names

PARALLEL_THRESHOLD = 200  # below this many files a process pool costs more than it saves
SERIAL_BATCH = 256  # files per batch in-process: bounds what one COPY holds


class NodeFacts(NamedTuple):
    """What stage 1 keeps of a node once its row is on its way to the index."""

    node_id: str
    name: str
    kind: str
    is_test: bool
    source_hash: str
    full_name: str


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A file that looks changed. ``known_hash``: its indexed content hash, or None when
    it must be parsed whatever it holds (new, or under a renamed package)."""

    stat: FileStat
    language: str
    known_hash: str | None


#: outcomes of reading one file
PARSED, TOUCHED, VANISHED, UNREADABLE = "parsed", "touched", "vanished", "unreadable"


@dataclass(slots=True)
class FileResult:
    stat: FileStat
    outcome: str
    problem: str = ""  # why it was not parsed (vanished, unreadable)
    digest: str = ""
    status: FileStatus | None = None
    error: str | None = None
    file_row: tuple[Any, ...] | None = None  # hub_files columns (FILE_COLUMNS)
    nodes: list[NodeFacts] = field(default_factory=list)
    node_rows: list[tuple[Any, ...]] = field(default_factory=list)  # NODE_COLUMNS
    #: with ``encode``: the node rows as new rows, binary COPY encoded by the worker;
    #: ``node_rows`` is then empty
    node_copy: bytes = b""


FILE_COLUMNS = [
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
NODE_COLUMNS = [
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
_NO_SOURCE = {"source"}
_FULL_NAME = NODE_COLUMNS.index("full_name")
_NODE_ROW = RowEncoder([TEXT] * 8 + [BOOL, TEXT, TEXT_ARRAY, TEXT_ARRAY, JSONB])


def call_names(calls: Iterable[CallRef], imports: dict[str, str]) -> list[str]:
    """Every name a definition must have to be one of these calls' callees."""
    names = {ref.name for ref in calls}
    names |= {imports[r.name].rsplit(".", 1)[-1] for r in calls if r.name in imports}
    return sorted(names)


def _node_row(
    repo: str, node: NodeFields, node_id: str, imports: dict[str, str]
) -> tuple[Any, ...]:
    """A node's ``hub_nodes`` row under its repository-qualified ``node_id``: its
    ``extract`` is the JSON the CodeNode with that id dumps, minus the source (the
    fields are in the model's order, so pydantic-core dumps the dict alike)."""
    kind, name = node["kind"], node["name"]
    is_test = node["is_test"]
    return (
        repo,
        node_id,
        node["file_path"],
        kind,
        name,
        node["qualname"],
        _full_name(node),
        node["class_name"],
        is_test,
        node["source"],
        call_names(node["calls"], imports),
        tested_names(name) if is_test and kind != "module" else [],
        to_json({**node, "node_id": node_id}, exclude=_NO_SOURCE).decode(),
    )


def _full_name(node: NodeFields) -> str:
    """CodeNode.full_name of these fields."""
    module: str = node["module"]
    return module if node["kind"] == "module" else f"{module}.{node['qualname']}"


def read_and_parse(
    root: Path,
    request: ReadRequest,
    max_bytes: int,
    repo: str,
    is_package_dir: Callable[[str], bool],
) -> FileResult:
    """One file: read it, hash it, and parse it unless its content is the indexed one."""
    st = request.stat
    try:
        data = (root / st.path).read_bytes()
    except FileNotFoundError:
        return FileResult(st, VANISHED, FileStatus.VANISHED.value + ": deleted during the scan")
    except OSError as exc:
        return FileResult(st, UNREADABLE, f"{FileStatus.UNREADABLE.value}: {exc.strerror}")
    digest = content_hash(data)
    if request.known_hash == digest:
        return FileResult(st, TOUCHED, digest=digest)
    found = discover(st.path, data, request.language, is_package_dir, max_bytes)
    del data
    extract = found.extract
    result = FileResult(st, PARSED, digest=digest, status=extract.status, error=extract.error)
    result.file_row = (
        repo,
        extract.path,
        st.mtime_ns,
        st.size,
        digest,
        extract.language,
        extract.status.value,
        extract.error,
        extract.module,
        json.dumps(extract.imports),
    )
    for node in found.nodes:
        node_id = qualify_node_id(repo, node["node_id"])
        row = _node_row(repo, node, node_id, extract.imports)
        result.node_rows.append(row)
        facts = (node["name"], node["kind"], node["is_test"], node["source_hash"])
        result.nodes.append(NodeFacts(node_id, *facts, row[_FULL_NAME]))
    return result


def _read_batch(
    root: str, requests: list[ReadRequest], max_bytes: int, repo: str, encode: bool = False
) -> list[FileResult]:
    base = Path(root)
    is_pkg = package_dir_checker(base)
    results = [read_and_parse(base, r, max_bytes, repo, is_pkg) for r in requests]
    if encode:
        for result in results:
            result.node_copy = _NODE_ROW.block(result.node_rows)
            result.node_rows = []
    return results


def read_files(
    root: Path,
    requests: list[ReadRequest],
    max_bytes: int,
    workers: int,
    repo: str,
    *,
    encode: bool = False,
) -> Iterator[list[FileResult]]:
    """Results batch by batch, in request order, as workers finish them: the caller writes
    each batch and drops it before the next arrives. ``encode``: every node is new (a
    first build), so the workers encode its row for COPY (``FileResult.node_copy``)."""
    if workers <= 1 or len(requests) < PARALLEL_THRESHOLD:
        for start in range(0, len(requests), SERIAL_BATCH):
            batch = requests[start : start + SERIAL_BATCH]
            yield _read_batch(str(root), batch, max_bytes, repo, encode)
        return
    chunk = max(1, len(requests) // (workers * 8))
    batches = [requests[i : i + chunk] for i in range(0, len(requests), chunk)]
    # here, not at the top: multiprocessing is ~5 % of a one-file edit's imports, unused there
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = deque(
            pool.submit(_read_batch, str(root), b, max_bytes, repo, encode) for b in batches
        )
        del batches
        while pending:
            yield pending.popleft().result()  # no reference left once the caller wrote it
