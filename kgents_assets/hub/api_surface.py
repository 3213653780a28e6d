"""A repository's public API as the hub sees it, and how it changed since last time.

Public: a function, class or method none of whose qualified-name parts starts with an
underscore, in a non-test file; where its module defines ``__all__``, the top-level name
must be listed there unless a package re-exports it: its ``__init__`` imports it by name,
or star-imports its module (``from .m import *`` re-exports what ``m.__all__`` lists, or
without ``__all__`` every public top-level name of ``m``, as Python does).

The last seen surface is kept per repository in ``hub_api_snapshot`` and
``hub_api_baselines`` (this module is their only owner). ``detect_api_changes`` compares
the surface now with it and reports removed, renamed and re-signed symbols; the first
call for a repository only records a baseline. A rename is a removed and an added symbol
of the same kind and file whose bodies (the code after the ``def``/``class`` line) are
identical.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import psycopg

from kgents_assets.hub.modules import resolve_relative
from kgents_assets.hub.node_ids import content_hash

ChangeKind = Literal["removed", "renamed", "signature_changed"]
_API_KINDS = ("function", "class", "method")


@dataclass(frozen=True)
class ApiSymbol:
    node_id: str
    full_name: str
    qualname: str
    name: str
    kind: str
    module: str
    file_path: str
    line: int
    signature: str
    body_hash: str
    exported_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiChange:
    kind: ChangeKind
    old: ApiSymbol
    new: ApiSymbol | None = None  # renamed / signature_changed: the symbol now

    def describe(self) -> str:
        if self.kind == "removed":
            return f"{self.old.full_name} was removed ({self.old.signature})"
        assert self.new is not None
        if self.kind == "renamed":
            return f"{self.old.full_name} was renamed to {self.new.full_name}"
        return (
            f"the signature of {self.old.full_name} changed: "
            f"{self.old.signature} -> {self.new.signature}"
        )


def _defines(line: str, name: str) -> bool:
    """``line`` is ``[async] def|class NAME`` followed by a non-word character or nothing.

    String tests rather than a regular expression per name: a repository has thousands of
    names, more than ``re``'s cache holds, and compiling one per symbol was most of a
    refresh's time in ``api_impact`` (3.7 of 4.9 s on Django).
    """
    if name not in line:
        return False
    rest = line.lstrip()
    if rest.startswith("async") and rest[5:6].isspace():
        rest = rest[5:].lstrip()
    for keyword in ("def", "class"):
        if rest.startswith(keyword) and rest[len(keyword) : len(keyword) + 1].isspace():
            after = rest[len(keyword) :].lstrip()
            if not after.startswith(name):
                return False
            following = after[len(name) : len(name) + 1]
            return not following or not (following.isalnum() or following == "_")
    return False


def body_hash(source: str, name: str) -> str:
    """Hash of what follows the ``def``/``class`` line: the same under a rename."""
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if _defines(line, name):
            return content_hash("\n".join(lines[i + 1 :]).encode())
    return content_hash(source.encode())


@cache
def _dunder_all(path: Path, mtime_ns: int) -> frozenset[str] | None:
    try:
        data = path.read_bytes()
        # most modules never mention it: a byte search spares parsing them on every run
        tree = ast.parse(data) if b"__all__" in data else None
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body if tree is not None else ():
        if not isinstance(node, ast.Assign):
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = node.value
            if isinstance(value, ast.List | ast.Tuple):
                return frozenset(
                    e.value
                    for e in value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                )
    return None


def module_all(root: Path | None, file_path: str) -> frozenset[str] | None:
    """The module's ``__all__`` when it is a literal list/tuple, else None."""
    if root is None or not file_path.endswith(".py"):
        return None
    path = root / file_path
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    return _dunder_all(path, mtime)


_STAR_IMPORT = re.compile(rb"\bimport\s*\(?\s*\*")


@cache
def _star_sources(path: Path, mtime_ns: int) -> tuple[tuple[int, str], ...]:
    """(level, module) of each ``from module import *`` at the top of the file."""
    try:
        data = path.read_bytes()
        if _STAR_IMPORT.search(data) is None:  # the common case, without a parse
            return ()
        tree = ast.parse(data)
    except (OSError, SyntaxError, ValueError):
        return ()
    return tuple(
        (node.level, node.module or "")
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
    )


def star_imports(root: Path | None, file_path: str, module: str) -> list[str]:
    """The absolute names of the modules a package ``__init__`` star-imports."""
    if root is None:
        return []
    path = root / file_path
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return []
    return [
        resolve_relative(module, True, level, name) if level else name
        for level, name in _star_sources(path, mtime)
    ]


def _star_names(
    conn: psycopg.Connection[Any], repo: str, root: Path | None, module: str
) -> list[str]:
    """The full names of what ``from module import *`` binds: the names of its
    ``__all__``, else its public top-level functions, classes and imports; a name the
    module itself imports is followed to where it is defined (a chain of re-exports)."""
    row = conn.execute(
        "SELECT path, imports FROM hub_files WHERE repo = %s AND module = %s LIMIT 1",
        (repo, module),
    ).fetchone()
    path, imports = (row[0], row[1] or {}) if row else (None, {})
    listed = module_all(root, path) if path else None
    if listed is None:
        defined = conn.execute(
            "SELECT DISTINCT name FROM hub_nodes WHERE repo = %s AND extract->>'module' = %s "
            "AND kind IN ('function', 'class') AND qualname = name",
            (repo, module),
        ).fetchall()
        listed = frozenset(n for n in [*(r[0] for r in defined), *imports] if _is_public(n))
    return [imports.get(name, f"{module}.{name}") for name in sorted(listed)]


def re_exports(conn: psycopg.Connection[Any], repo: str, root: Path | None) -> dict[str, list[str]]:
    """full name -> the packages whose ``__init__`` imports it (by name or by a star)."""
    out: dict[str, list[str]] = {}
    for module, imports, path in conn.execute(
        "SELECT module, imports, path FROM hub_files WHERE repo = %s AND path LIKE '%%__init__.py'",
        (repo,),
    ).fetchall():
        for target in (imports or {}).values():
            out.setdefault(target, []).append(module)
        for source in star_imports(root, path, module or ""):
            for full_name in _star_names(conn, repo, root, source):
                out.setdefault(full_name, []).append(module)
    return out


def _is_public(qualname: str) -> bool:
    return not any(part.startswith("_") for part in qualname.split("."))


def public_api(
    conn: psycopg.Connection[Any],
    repo: str,
    root: Path | None,
    *,
    files: Collection[str] | None = None,
    exports: dict[str, list[str]] | None = None,
) -> dict[str, ApiSymbol]:
    """node id -> symbol, for every public function, class and method of ``repo`` (of the
    ``files`` given only; ``exports``: ``re_exports`` already computed)."""
    if exports is None:
        exports = re_exports(conn, repo, root)
    rows = conn.execute(
        "SELECT node_id, full_name, qualname, name, kind, file_path, "
        "(extract->>'start_line')::int, extract->>'signature', extract->>'module', source "
        "FROM hub_nodes WHERE repo = %s AND NOT is_test AND kind = ANY(%s) "
        "AND (%s::text[] IS NULL OR file_path = ANY(%s::text[]))",
        (repo, list(_API_KINDS), *([None if files is None else list(files)] * 2)),
    ).fetchall()
    out: dict[str, ApiSymbol] = {}
    test_paths: dict[str, bool] = {}  # a file has many symbols: decide once per file
    for node_id, full, qual, name, kind, path, line, sig, module, source in rows:
        if not _is_public(qual):
            continue
        is_test = test_paths.get(path)
        if is_test is None:
            is_test = test_paths[path] = _is_test_path(path)
        if is_test:
            continue
        top = qual.split(".", 1)[0]
        exported_by = tuple(sorted(set(exports.get(f"{module}.{top}", []))))
        listed = module_all(root, path)
        if listed is not None and top not in listed and not exported_by:
            continue
        out[node_id] = ApiSymbol(
            node_id=node_id, full_name=full, qualname=qual, name=name, kind=kind,
            module=module or "", file_path=path, line=line or 1, signature=sig or "",
            body_hash=body_hash(source or "", name),
            exported_by=(module, *exported_by) if module else exported_by,
        )  # fmt: skip
    return out


def _is_test_path(path: str) -> bool:
    from kgents_assets.hub.test_files import is_test_file

    return is_test_file(path)


def load_snapshot(
    conn: psycopg.Connection[Any], repo: str, files: Collection[str] | None = None
) -> dict[str, ApiSymbol] | None:
    """The surface recorded last time (of the ``files`` given only), or None before the
    first detection."""
    baseline = conn.execute("SELECT 1 FROM hub_api_baselines WHERE repo = %s", (repo,)).fetchone()
    if baseline is None:
        return None
    rows = conn.execute(
        "SELECT symbol FROM hub_api_snapshot WHERE repo = %s "
        "AND (%s::text[] IS NULL OR symbol->>'file_path' = ANY(%s::text[]))",
        (repo, *([None if files is None else list(files)] * 2)),
    ).fetchall()
    return {s["node_id"]: _symbol(s) for (s,) in rows}


def _symbol_json(symbol: ApiSymbol) -> str:
    return json.dumps({**symbol.__dict__, "exported_by": list(symbol.exported_by)})


def record_changes(conn: psycopg.Connection[Any], repo: str, changes: list[ApiChange]) -> None:
    for c in changes:
        conn.execute(
            "INSERT INTO hub_api_changes (repo, kind, full_name, qualname, node_id, old_symbol, "
            "new_symbol) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                repo, c.kind, c.old.full_name, c.old.qualname, c.old.node_id,
                _symbol_json(c.old), _symbol_json(c.new) if c.new else None,
            ),
        )  # fmt: skip


def last_change(
    conn: psycopg.Connection[Any], target: str, repo: str | None
) -> tuple[str, ApiChange] | None:
    """The latest recorded change of the symbol ``target`` names (full name, qualified
    name or node id), in ``repo`` or any repository."""
    row = conn.execute(
        "SELECT repo, kind, old_symbol, new_symbol FROM hub_api_changes "
        "WHERE (%s::text IS NULL OR repo = %s) AND %s IN (full_name, qualname, node_id) "
        "ORDER BY id DESC LIMIT 1",
        (repo, repo, target),
    ).fetchone()
    if row is None:
        return None
    new = _symbol(row[3]) if row[3] else None
    return row[0], ApiChange(row[1], _symbol(row[2]), new)


def _symbol(data: dict[str, Any]) -> ApiSymbol:
    return ApiSymbol(**{**data, "exported_by": tuple(data.get("exported_by", ()))})


def save_snapshot(
    conn: psycopg.Connection[Any],
    repo: str,
    surface: dict[str, ApiSymbol],
    previous: dict[str, ApiSymbol] | None = None,
) -> None:
    """Record ``surface`` as ``repo``'s snapshot. With ``previous`` (the stored snapshot)
    only the symbols that differ are written: an edit touches a handful of rows, not the
    repository's whole API."""
    conn.execute(
        "INSERT INTO hub_api_baselines (repo) VALUES (%s) ON CONFLICT (repo) DO UPDATE "
        "SET updated_at = now()",
        (repo,),
    )
    if previous is None:
        conn.execute("DELETE FROM hub_api_snapshot WHERE repo = %s", (repo,))
        changed = surface
    else:
        gone = [node_id for node_id in previous if node_id not in surface]
        if gone:
            conn.execute(
                "DELETE FROM hub_api_snapshot WHERE repo = %s AND node_id = ANY(%s)", (repo, gone)
            )
        changed = {i: s for i, s in surface.items() if previous.get(i) != s}
        if changed:
            conn.execute(
                "DELETE FROM hub_api_snapshot WHERE repo = %s AND node_id = ANY(%s)",
                (repo, list(changed)),
            )
    if not changed:
        return
    # COPY, not a jsonb[] parameter: psycopg builds an array literal in Python, escaping
    # each JSON text with a regex (a cold Django: 8.6k symbols, 3.5 s of a 4.5 s write)
    with conn.cursor().copy("COPY hub_api_snapshot (repo, node_id, symbol) FROM STDIN") as copy:
        for node_id, symbol in changed.items():
            copy.write_row((repo, node_id, _symbol_json(symbol)))


@dataclass
class Detection:
    baseline: bool  # True: first look at this repository, nothing compared
    changes: list[ApiChange] = field(default_factory=list)


def diff_surfaces(before: dict[str, ApiSymbol], now: dict[str, ApiSymbol]) -> list[ApiChange]:
    added = [s for i, s in now.items() if i not in before]
    changes: list[ApiChange] = []
    for node_id, old in sorted(before.items(), key=lambda kv: kv[1].full_name):
        new = now.get(node_id)
        if new is None:
            twin = next(
                (
                    a
                    for a in added
                    if a.kind == old.kind
                    and a.file_path == old.file_path
                    and a.body_hash == old.body_hash
                ),
                None,
            )
            if twin is not None:
                added.remove(twin)
                changes.append(ApiChange("renamed", old, twin))
            else:
                changes.append(ApiChange("removed", old))
        elif new.signature != old.signature:
            changes.append(ApiChange("signature_changed", old, new))
    return changes


def detect_api_changes(
    conn: psycopg.Connection[Any],
    repo: str,
    root: Path | None,
    *,
    files: Collection[str] | None = None,
    exports: dict[str, list[str]] | None = None,
) -> Detection:
    """Compare the surface now with the last snapshot, then record the new one (in the
    caller's transaction: a failed run leaves the old snapshot, and the change is seen
    again by the next one). ``files``: only those files' symbols (``api_incremental``
    knows the others are unchanged); ``exports``: the re-export map, already computed."""
    now = public_api(conn, repo, root, files=files, exports=exports)
    before = load_snapshot(conn, repo, files)
    save_snapshot(conn, repo, now, before)
    if before is None:
        return Detection(baseline=True)
    changes = diff_surfaces(before, now)
    record_changes(conn, repo, changes)
    return Detection(baseline=False, changes=changes)
