"""API change impact summaries (demo 2): for a removed, renamed or re-signed public symbol,
every callsite (file:line, confidence), the tests that exercise those callsites, the
modules that export the symbol, and similar APIs.

Callsites are found from what the callers' code says now, not from resolved edges: after
a removal the edges to the symbol are gone, but ``hub_nodes.call_names`` still lists the
name at every broken call. Confidence: 1.0 when the caller's file imports the symbol
(``from m import f``; ``import m`` then ``m.f(...)``), 0.95 inside the defining module,
0.3 for a bare name match (a method called on an object of unknown type, say).

Summaries are written as JSON and markdown under ``{repo root}/.agentfs/impact/``
mirroring the symbol's file, atomically.
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
from kgents_assets.hub.api_incremental import detect_api_changes
from kgents_assets.hub.api_surface import (
    ApiChange,
    ApiSymbol,
    ChangeKind,
    body_hash,
    last_change,
    public_api,
)
from kgents_assets.hub.artifacts import record_artifact
from kgents_assets.hub.context import pytest_id
from kgents_assets.hub.node_lookup import Found, Miss, find_node
from kgents_assets.hub.state_store import load_states

IMPACT_DIR = Path(".agentfs") / "impact"
MAX_CALLSITES = 500
IMPORTED, SAME_MODULE, NAME_ONLY = 1.0, 0.95, 0.3


class Callsite(BaseModel):
    file_path: str
    line: int
    caller: str  # full name of the enclosing function/method/module
    caller_node_id: str
    code: str  # the line as written
    confidence: float
    is_test: bool = False


class ImpactSummary(BaseModel):
    repo: str
    change: ChangeKind | None  # None: the symbol as it stands (no change recorded)
    description: str
    symbol: str  # full name before the change
    qualname: str
    node_id: str
    kind: str
    file_path: str
    line: int
    signature_before: str
    signature_after: str | None = None
    renamed_to: str | None = None
    callsites: list[Callsite] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)  # pytest ids exercising the callsites
    exported_by: list[str] = Field(default_factory=list)
    similar: list[str] = Field(default_factory=list)
    created_at: datetime
    artifact: str | None = None  # the JSON file, relative to the repository root
    duration_ms: float | None = None


def _homes(symbol: ApiSymbol) -> set[str]:
    """The modules through which the symbol is reached: its own and the packages that
    re-export it (``httpx.get`` is ``httpx._api.get``)."""
    return {symbol.module, *symbol.exported_by}


def _qualifiers(imports: dict[str, str], symbol: ApiSymbol) -> tuple[set[str], set[str]]:
    """(names that mean the symbol when called bare, qualifiers that mean its module)."""
    top = symbol.qualname.split(".", 1)[0]
    homes = _homes(symbol)
    targets = {f"{home}.{top}" for home in homes}
    bare = {alias for alias, t in imports.items() if t in targets}
    mods = {alias for alias, t in imports.items() if t in homes}
    return bare, mods


def find_callsites(conn: psycopg.Connection[Any], repo: str, symbol: ApiSymbol) -> list[Callsite]:
    name = symbol.name
    rows = conn.execute(
        "SELECT n.node_id, n.full_name, n.file_path, (n.extract->>'start_line')::int, n.source, "
        "n.is_test, f.imports, f.module FROM hub_nodes n "
        "JOIN hub_files f ON f.repo = n.repo AND f.path = n.file_path "
        "WHERE n.repo = %s AND n.call_names @> ARRAY[%s]::text[] ORDER BY n.file_path, 4",
        (repo, name),
    ).fetchall()
    call = re.compile(
        rf"(?P<dot>(?:\b(?P<qual>[A-Za-z_][\w.]*))?\s*\.\s*)?\b{re.escape(name)}\s*\("
    )
    # a method is called through an object; a class's methods also through ``self``/``cls``
    out: list[Callsite] = []
    seen: set[tuple[str, int]] = set()
    for node_id, full, path, start, source, is_test, imports, module in rows:
        if node_id == symbol.node_id:
            continue
        bare, mods = _qualifiers(imports or {}, symbol)
        for offset, text in enumerate((source or "").splitlines()):
            for match in call.finditer(text):
                if re.match(rf"\s*(async\s+)?def\s+{re.escape(name)}\b", text):
                    break  # a nested definition of the same name, not a call
                qual, dotted = match["qual"], match["dot"] is not None
                if symbol.kind == "method":
                    confidence = NAME_ONLY if dotted else 0.0
                elif not dotted:
                    confidence = (
                        IMPORTED if name in bare else SAME_MODULE if module == symbol.module
                        else NAME_ONLY
                    )  # fmt: skip
                elif qual in mods or qual in _homes(symbol):
                    confidence = IMPORTED
                elif qual is None:  # ``make().name(...)``: an attribute of some object
                    confidence = NAME_ONLY
                else:
                    # ``other_module.name(...)``: a qualifier the file imports as something
                    # else means another function of the same name, not this one
                    head = qual.split(".", 1)[0]
                    known = (imports or {}).get(head)
                    confidence = 0.0 if known and known not in _homes(symbol) else NAME_ONLY
                line = (start or 1) + offset
                if confidence <= 0 or (path, line) in seen:
                    continue
                seen.add((path, line))
                out.append(
                    Callsite(
                        file_path=path, line=line, caller=full, caller_node_id=node_id,
                        code=text.strip(), confidence=confidence, is_test=is_test,
                    )
                )  # fmt: skip
    # the innermost caller wins a line (a module node also spans its functions' lines)
    inner: dict[tuple[str, int], Callsite] = {}
    for site in out:
        key = (site.file_path, site.line)
        if key not in inner or len(site.caller) > len(inner[key].caller):
            inner[key] = site
    ranked = sorted(inner.values(), key=lambda s: (-s.confidence, s.file_path, s.line))
    return ranked[:MAX_CALLSITES]


def tests_for(conn: psycopg.Connection[Any], repo: str, sites: list[Callsite]) -> list[str]:
    """Pytest ids of the tests that are callsites, or that cover a callsite's caller."""
    names = {s.caller for s in sites if s.is_test}
    states = load_states(conn, sorted({s.caller_node_id for s in sites if not s.is_test}))
    for state in states.values():
        names.update(state.related_tests)
    if not names:
        return []
    rows = conn.execute(
        "SELECT file_path, qualname FROM hub_nodes WHERE repo = %s AND is_test "
        "AND full_name = ANY(%s) ORDER BY file_path, qualname",
        (repo, sorted(names)),
    ).fetchall()
    return [pytest_id(r[0], r[1]) for r in rows]


def similar_apis(conn: psycopg.Connection[Any], repo: str, symbol: ApiSymbol) -> list[str]:
    """Public symbols of the repository sharing a name part with the symbol (longest
    shared part first): what a caller might move to."""
    parts = [p for p in re.split(r"_+|(?<=[a-z])(?=[A-Z])", symbol.name) if len(p) >= 3]
    if not parts:
        return []
    rows = conn.execute(
        "SELECT full_name, name FROM hub_nodes WHERE repo = %s AND NOT is_test "
        "AND kind = ANY(%s) AND node_id <> %s AND name NOT LIKE '\\_%%' "
        "AND name ~* %s ORDER BY full_name LIMIT 50",
        (
            repo,
            ["function", "method", "class"],
            symbol.node_id,
            "|".join(re.escape(p) for p in parts),
        ),
    ).fetchall()

    def shared(name: str) -> int:
        return max((len(p) for p in parts if p.lower() in name.lower()), default=0)

    return [r[0] for r in sorted(rows, key=lambda r: (-shared(r[1]), r[0]))][:5]


def summarize_change(
    conn: psycopg.Connection[Any], repo: str, change: ApiChange | None, symbol: ApiSymbol
) -> ImpactSummary:
    started = time.perf_counter()
    sites = find_callsites(conn, repo, symbol)
    new = change.new if change else None
    summary = ImpactSummary(
        repo=repo, change=change.kind if change else None,
        description=change.describe() if change else f"{symbol.full_name} as it stands",
        symbol=symbol.full_name, qualname=symbol.qualname, node_id=symbol.node_id, kind=symbol.kind,
        file_path=symbol.file_path, line=symbol.line, signature_before=symbol.signature,
        signature_after=new.signature if new and change and change.kind != "removed" else None,
        renamed_to=new.full_name if change and change.kind == "renamed" and new else None,
        callsites=sites, tests=tests_for(conn, repo, sites),
        exported_by=list(symbol.exported_by), similar=similar_apis(conn, repo, symbol),
        created_at=datetime.now(UTC),
    )  # fmt: skip
    summary.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return summary


def render_markdown(summary: ImpactSummary) -> str:
    head = f"# Impact: {summary.description}\n\n"
    lines = [
        head.rstrip(),
        "",
        f"- symbol: `{summary.symbol}` ({summary.kind}) at `{summary.file_path}:{summary.line}`",
        f"- signature before: `{summary.signature_before}`",
    ]
    if summary.signature_after:
        lines.append(f"- signature after: `{summary.signature_after}`")
    if summary.renamed_to:
        lines.append(f"- renamed to: `{summary.renamed_to}`")
    lines.append(f"- exported by: {', '.join(f'`{m}`' for m in summary.exported_by) or '-'}")
    broken = " (each one breaks)" if summary.change in ("removed", "renamed") else ""
    lines += ["", f"## Callsites ({len(summary.callsites)}){broken}", ""]
    lines += [
        f"- `{s.file_path}:{s.line}` in `{s.caller}` (confidence {s.confidence:.2f}): `{s.code}`"
        for s in summary.callsites
    ] or ["- none found"]
    lines += ["", f"## Tests to run ({len(summary.tests)})", ""]
    lines += [f"- `{t}`" for t in summary.tests] or ["- none cover these callsites"]
    lines += ["", "## Similar APIs", ""]
    lines += [f"- `{s}`" for s in summary.similar] or ["- none"]
    return "\n".join(lines) + "\n"


def artifact_paths(root: Path, summary: ImpactSummary) -> tuple[Path, Path]:
    base = root / IMPACT_DIR / summary.file_path / summary.qualname
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".md")


def write_summary(
    root: Path, summary: ImpactSummary, conn: psycopg.Connection[Any] | None = None
) -> Path:
    """Write the summary's markdown and JSON; with ``conn``, also journal it as an
    artifact (the gateway's hub stream shows it)."""
    json_path, md_path = artifact_paths(root, summary)
    summary.artifact = json_path.relative_to(root).as_posix()
    atomic_write_text(md_path, render_markdown(summary))
    atomic_write_text(json_path, summary.model_dump_json(indent=2))
    if conn is not None:
        sites = len(summary.callsites)
        record_artifact(
            conn, summary.repo, "impact_summary", summary.symbol, summary.artifact,
            f"impact summary: {summary.description}; {sites} callsite{'s' * (sites != 1)}, "
            f"{len(summary.tests)} test{'s' * (len(summary.tests) != 1)} to run",
            {"change": summary.change, "callsites": sites, "tests": len(summary.tests),
             "node_id": summary.node_id},
        )  # fmt: skip
    return json_path


def detect_and_summarize(
    conn: psycopg.Connection[Any], repo: str, root: Path | None
) -> tuple[bool, list[ImpactSummary]]:
    """The API changes of ``repo`` since the last call, each summarized and (with a root)
    written under ``.agentfs/impact/``. Returns (baseline only?, summaries).

    The detection rebuilds only the files that moved since the last call
    (``api_incremental``): an edit costs its files, not the repository's whole API."""
    detection = detect_api_changes(conn, repo, root)
    out: list[ImpactSummary] = []
    for change in detection.changes:
        summary = summarize_change(conn, repo, change, change.old)
        if root is not None:
            write_summary(root, summary, conn)
        out.append(summary)
    return detection.baseline, out


def _symbol_of(conn: psycopg.Connection[Any], repo: str, node_id: str) -> ApiSymbol | None:
    row = conn.execute(
        "SELECT node_id, full_name, qualname, name, kind, file_path, "
        "(extract->>'start_line')::int, extract->>'signature', extract->>'module', source "
        "FROM hub_nodes WHERE repo = %s AND node_id = %s",
        (repo, node_id),
    ).fetchone()
    if row is None:
        return None
    node_id, full, qual, name, kind, path, line, sig, module, source = row
    return ApiSymbol(
        node_id=node_id, full_name=full, qualname=qual, name=name, kind=kind,
        module=module or "", file_path=path, line=line or 1, signature=sig or "",
        body_hash=body_hash(source or "", name), exported_by=(module,) if module else (),
    )  # fmt: skip


def impact_for(
    conn: psycopg.Connection[Any], target: str, repo: str | None, root_of: Any = None
) -> ImpactSummary | Miss:
    """The impact of changing (or removing) the symbol ``target`` names: a symbol that
    exists is summarized as it stands; one that is gone but was in the last recorded API
    surface is summarized as removed (its callsites are the broken ones)."""
    found = find_node(conn, target, repo)
    if isinstance(found, Found):
        root = root_of(found.repo) if root_of else None
        surface = public_api(conn, found.repo, root)
        symbol = surface.get(found.node_id) or _symbol_of(conn, found.repo, found.node_id)
        if symbol is None:
            return Miss(f"no node {found.node_id!r}", found.repo)
        return summarize_change(conn, found.repo, None, symbol)
    recorded = last_change(conn, target, repo)
    if recorded is not None:
        name, change = recorded
        return summarize_change(conn, name, change, change.old)
    return found
