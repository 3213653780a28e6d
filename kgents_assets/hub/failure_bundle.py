"""Failure context bundles (demo 1): for one failing test, what someone fixing it needs.

The test's node; each traceback frame mapped to the innermost node holding its line; for
each frame's node its signature, callers and callees (with confidence), the tests that
cover it, similar nodes, and what changed in it since the last green run of this test
(the ``hub_traces`` of node-state refreshes after that run: the signals of each diff
bundle). Written as JSON and markdown under ``{root}/.agentfs/failures/`` mirroring the
test's file, atomically.

Frames come from pytest's report text (``path:line: in name`` / ``path:line: Error`` in
the long and short styles, ``File "path", line N, in name`` in the native style). Paths
may be relative to pytest's rootdir or absolute; both are mapped to repository paths.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from kgents_assets.fs.atomic import atomic_write_text
from kgents_assets.hub.artifacts import record_artifact
from kgents_assets.hub.context import NodeRef, node_refs, pytest_id
from kgents_assets.hub.node_lookup import Found, find_node
from kgents_assets.hub.state_store import load_state

FAILURES_DIR = Path(".agentfs") / "failures"
TOP_N = 8
MAX_FRAMES = 30
_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:][^:\n]*\.pyi?):(?P<line>\d+):(?: |$)", re.M)
_NATIVE_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+\.pyi?)", line (?P<line>\d+)', re.M)


class TraceChange(BaseModel):
    at: datetime
    run_id: str
    signals: list[str]


class FrameContext(BaseModel):
    file_path: str
    line: int
    in_repository: bool  # False: a library frame (site-packages, the stdlib)
    node_id: str | None = None
    full_name: str | None = None
    kind: str | None = None
    signature: str | None = None
    callers: list[NodeRef] = Field(default_factory=list)
    callees: list[NodeRef] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    similar: list[str] = Field(default_factory=list)
    changes_since_green: list[TraceChange] = Field(default_factory=list)


class FailureBundle(BaseModel):
    repo: str
    test_nodeid: str
    test_node_id: str | None
    test_full_name: str | None
    message: str
    frames: list[FrameContext]
    failing_node: str | None = None  # the innermost repository frame's node (the crash)
    last_green_at: datetime | None
    failed_at: datetime | None = None
    source: str = ""  # where the failure came from: "journal #12 (pytest)", "CI ..."
    created_at: datetime
    artifact: str | None = None
    duration_ms: float | None = None


def parse_frames(longrepr: str) -> list[tuple[str, int]]:
    """(path, line) of each traceback frame, outermost first, consecutive duplicates
    dropped."""
    found = [
        (m.start(), m["path"], int(m["line"]))
        for pattern in (_PYTEST_FRAME, _NATIVE_FRAME)
        for m in pattern.finditer(longrepr)
    ]
    frames: list[tuple[str, int]] = []
    for _, path, line in sorted(found):
        if not frames or frames[-1] != (path, line):
            frames.append((path, line))
    return frames[-MAX_FRAMES:]


def repo_path(path: str, root: Path | None, known: set[str]) -> str | None:
    """The repository-relative path of a frame's file, or None outside the repository."""
    candidate = Path(path)
    if candidate.is_absolute():
        if root is None:
            return None
        try:
            rel = candidate.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None
        return rel if rel in known else None
    text = candidate.as_posix()
    if text in known:
        return text
    # pytest's rootdir below the repository root: match the longest known path ending so
    tails = [k for k in known if k.endswith("/" + text)]
    return min(tails, key=len) if len(tails) == 1 else None


def last_green(
    conn: psycopg.Connection[Any], repo: str, nodeid: str, before: datetime | None
) -> datetime | None:
    """When the journal last saw this test pass (before the failure)."""
    file_path, _, rest = nodeid.partition("::")
    row = conn.execute(
        "SELECT max(occurred_at) FROM sensor_events WHERE kind = 'test_passed' "
        "AND (repo = %s OR repo IS NULL) AND (payload->>'nodeid' = %s OR "
        "payload->>'nodeid' LIKE %s) AND (%s::timestamptz IS NULL OR occurred_at < %s)",
        (repo, nodeid, f"%/{file_path}::{rest}", before, before),
    ).fetchone()
    return row[0] if row and row[0] else None


def _changes(
    conn: psycopg.Connection[Any], repo: str, node_id: str, since: datetime | None
) -> list[TraceChange]:
    rows = conn.execute(
        "SELECT at, run_id, signals FROM hub_traces WHERE repo = %s AND node_id = %s "
        "AND (%s::timestamptz IS NULL OR at > %s) ORDER BY id DESC LIMIT 5",
        (repo, node_id, since, since),
    ).fetchall()
    return [TraceChange(at=r[0], run_id=r[1], signals=list(r[2])) for r in reversed(rows)]


def _similar(store: Any, node_id: str) -> list[str]:
    """The catalog's nearest entries (the ``search_similar`` tool); empty when the catalog
    has no vector for the node (not embedded yet, or no catalog at all)."""
    if store is None:
        return []
    from kgents_assets.catalog.errors import CatalogError, EmbedderUnavailable
    from kgents_assets.catalog.search import similar_to

    try:
        return [h.entry.name for h in similar_to(store, node_id, limit=3)]
    except (CatalogError, EmbedderUnavailable, LookupError):
        return []


def _frame(
    conn: psycopg.Connection[Any],
    store: Any,
    repo: str,
    path: str,
    line: int,
    rel: str | None,
    green: datetime | None,
) -> FrameContext:
    frame = FrameContext(file_path=rel or path, line=line, in_repository=rel is not None)
    if rel is None:
        return frame
    found = find_node(conn, f"{rel}:{line}", repo)
    if not isinstance(found, Found):
        return frame
    state = load_state(conn, found.node_id)
    frame.node_id = found.node_id
    if state is None:
        return frame
    frame.full_name, frame.kind, frame.signature = state.full_name, state.kind, state.signature
    frame.callers = node_refs(conn, repo, state.callers, TOP_N)
    frame.callees = node_refs(conn, repo, state.callees, TOP_N)
    tests = conn.execute(
        "SELECT file_path, qualname FROM hub_nodes WHERE repo = %s AND is_test "
        "AND full_name = ANY(%s) ORDER BY 1, 2",
        (repo, state.related_tests),
    ).fetchall()
    frame.tests = [pytest_id(r[0], r[1]) for r in tests]
    frame.similar = _similar(store, found.node_id)
    frame.changes_since_green = _changes(conn, repo, found.node_id, green)
    return frame


def build_failure_bundle(
    conn: psycopg.Connection[Any],
    repo: str,
    root: Path | None,
    nodeid: str,
    *,
    message: str = "",
    longrepr: str = "",
    failed_at: datetime | None = None,
    source: str = "",
    store: Any = None,
) -> FailureBundle:
    started = time.perf_counter()
    known = {r[0] for r in conn.execute("SELECT path FROM hub_files WHERE repo = %s", (repo,))}
    test_file, _, rest = nodeid.partition("::")
    test_path = repo_path(test_file, root, known) or test_file
    test_target = f"{test_path}::{rest}"
    qualname = ".".join(p.split("[")[0] for p in rest.split("::") if p)
    row = conn.execute(
        "SELECT node_id, full_name FROM hub_nodes WHERE repo = %s AND is_test "
        "AND file_path = %s AND qualname = %s",
        (repo, test_path, qualname),
    ).fetchone()
    test_id, test_name = (row[0], row[1]) if row else (None, None)
    green = last_green(conn, repo, test_target, failed_at)
    frames = [
        _frame(conn, store, repo, path, line, repo_path(path, root, known), green)
        for path, line in parse_frames(longrepr)
    ]
    inner = next((f for f in reversed(frames) if f.node_id and f.node_id != test_id), None)
    bundle = FailureBundle(
        repo=repo, test_nodeid=test_target, test_node_id=test_id, test_full_name=test_name,
        message=message, frames=frames, failing_node=inner.full_name if inner else None,
        last_green_at=green, failed_at=failed_at, source=source, created_at=datetime.now(UTC),
    )  # fmt: skip
    bundle.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return bundle


def render_markdown(bundle: FailureBundle) -> str:
    lines = [
        f"# FAILED {bundle.test_nodeid}",
        "",
        f"- message: {bundle.message or '-'}",
        f"- test node: `{bundle.test_full_name or 'not in the model'}`",
        f"- failing node: `{bundle.failing_node or '-'}`",
        f"- last green run: {bundle.last_green_at or 'none on record'}",
        f"- source: {bundle.source or '-'}",
        "",
        "## Frames (outermost first)",
    ]
    for frame in bundle.frames:
        lines += ["", f"### `{frame.file_path}:{frame.line}`" + (
            f" in `{frame.full_name}`" if frame.full_name else "" if frame.in_repository
            else " (outside the repository)")]  # fmt: skip
        if frame.signature is None:
            continue
        lines.append(f"- signature: `{frame.signature}`")
        for title, refs in (("callers", frame.callers), ("callees", frame.callees)):
            shown = ", ".join(f"`{r.full_name}` ({r.confidence:.2f})" for r in refs)
            lines.append(f"- {title}: {shown or '-'}")
        lines.append(f"- tests: {', '.join(f'`{t}`' for t in frame.tests) or '-'}")
        lines.append(f"- similar: {', '.join(f'`{s}`' for s in frame.similar) or '-'}")
        changes = "; ".join(
            f"{c.at:%Y-%m-%d %H:%M:%S} {', '.join(c.signals)}" for c in frame.changes_since_green
        )
        lines.append(f"- changed since the last green run: {changes or 'nothing recorded'}")
    return "\n".join(lines) + "\n"


def write_bundle(
    root: Path, bundle: FailureBundle, conn: psycopg.Connection[Any] | None = None
) -> Path:
    """Write the bundle's markdown and JSON; with ``conn``, also journal it as an artifact
    (the gateway's hub stream shows it)."""
    file_part, _, rest = bundle.test_nodeid.partition("::")
    name = re.sub(r"[^\w.\[\]-]+", "_", rest.replace("::", ".")) or "session"
    base = root / FAILURES_DIR / file_part / name
    json_path = base.with_name(base.name + ".json")
    bundle.artifact = json_path.relative_to(root).as_posix()
    atomic_write_text(base.with_name(base.name + ".md"), render_markdown(bundle))
    atomic_write_text(json_path, bundle.model_dump_json(indent=2))
    if conn is not None:
        record_artifact(
            conn, bundle.repo, "failure_bundle", bundle.test_nodeid, bundle.artifact,
            describe(bundle),
            {"failing_node": bundle.failing_node, "frames": len(bundle.frames),
             "message": bundle.message[:500]},
        )  # fmt: skip
    return json_path


def describe(bundle: FailureBundle) -> str:
    """One sentence: the test, where it failed, what with."""
    where = f" in {bundle.failing_node}" if bundle.failing_node else ""
    first = bundle.message.strip().splitlines()[0][:160] if bundle.message.strip() else ""
    what = f": {first}" if first else ""
    return f"failure bundle for {bundle.test_nodeid}: failed{where}{what}"


class JournaledFailure(BaseModel):
    seq: int
    repo: str | None
    nodeid: str
    message: str
    longrepr: str
    occurred_at: datetime
    source: str


def journaled_failures(
    conn: psycopg.Connection[Any],
    *,
    seqs: list[int] | None = None,
    repo: str | None = None,
    test: str | None = None,
    limit: int = 1,
) -> list[JournaledFailure]:
    """``test_failed`` entries of the event journal, newest first: given ``seqs``, or the
    latest (of ``repo``, of the test whose node id ends with ``test``)."""
    rows = conn.execute(
        "SELECT seq, repo, payload, occurred_at, source FROM sensor_events "
        "WHERE kind = 'test_failed' AND (%s::bigint[] IS NULL OR seq = ANY(%s)) "
        "AND (%s::text IS NULL OR repo = %s OR repo IS NULL) "
        "AND (%s::text IS NULL OR payload->>'nodeid' = %s OR payload->>'nodeid' LIKE %s) "
        "ORDER BY seq DESC LIMIT %s",
        (seqs, seqs, repo, repo, test, test, f"%/{test}", limit if seqs is None else len(seqs)),
    ).fetchall()
    return [
        JournaledFailure(
            seq=r[0], repo=r[1], nodeid=r[2]["nodeid"], message=r[2].get("message", ""),
            longrepr=r[2].get("longrepr", ""), occurred_at=r[3], source=r[4],
        )
        for r in rows
    ]  # fmt: skip


def bundle_for(
    conn: psycopg.Connection[Any],
    failure: JournaledFailure,
    repo: str,
    root: Path | None,
    store: Any = None,
) -> FailureBundle:
    """The bundle of a journaled failure, written under ``root`` when given."""
    bundle = build_failure_bundle(
        conn, repo, root, failure.nodeid, message=failure.message, longrepr=failure.longrepr,
        failed_at=failure.occurred_at, source=f"journal #{failure.seq} ({failure.source})",
        store=store,
    )  # fmt: skip
    if root is not None:
        write_bundle(root, bundle, conn)
    return bundle
