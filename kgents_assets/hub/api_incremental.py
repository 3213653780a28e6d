"""``detect_api_changes`` with work proportional to the edit, the same result.

The full comparison (``api_surface.detect_api_changes``) rebuilds the public API of the
whole repository on every refresh: on Django 25k symbols read with their source and hashed,
the stored snapshot parsed back, 2.2 s for a one-function edit. A symbol's entry depends
only on its node row, its file (``__all__`` in the file's text) and the repository's
re-exports (``_re_exports``, a few hundred package ``__init__`` rows, recomputed whole here
since it is cheap). So the state next to the snapshot (kv ``hub:api:{repo}``, with the
repository's ``repo`` column) keeps, per file, a fingerprint of everything a symbol of it is
built from, plus the re-export map; a refresh rebuilds only the files whose fingerprint
moved, and the files whose re-exports moved, and compares those with the snapshot's
symbols of the same files. Every other file's symbols are equal on both sides by
construction: they can neither appear in the changes nor be rewritten.

The state is trusted only while it names the snapshot it was saved with (the baseline's
``updated_at``, set in the saving transaction) and the same root; anything else (the first
refresh after an upgrade, a snapshot written by other code) takes the full comparison, which
saves a state for the next one.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kgents_assets.hub.api_surface import (
    _API_KINDS,
    Detection,
    _re_exports,
    diff_surfaces,
    load_snapshot,
    public_api,
    record_changes,
    save_snapshot,
)

PREFIX = "hub:api:"


def state_key(repo: str) -> str:
    return f"{PREFIX}{repo}"


def file_fingerprints(conn: psycopg.Connection[Any], repo: str) -> dict[str, list[Any]]:
    """path -> [fingerprint, modules of its symbols]: every file of the index, and every
    file with a candidate symbol, even one the index lost.

    The fingerprint covers what ``public_api`` reads of a file: the node rows it selects
    (each column it uses, the source by its hash) and the file's content hash (its
    ``__all__``)."""
    nodes = conn.execute(
        "SELECT file_path, md5(string_agg(concat_ws(chr(31), node_id, full_name, qualname, "
        "name, kind, extract->>'start_line', extract->>'signature', extract->>'module', "
        "md5(source)), chr(30) ORDER BY node_id)), "
        "array_agg(DISTINCT coalesce(extract->>'module', '')) "
        "FROM hub_nodes WHERE repo = %s AND NOT is_test AND kind = ANY(%s) GROUP BY file_path",
        (repo, list(_API_KINDS)),
    ).fetchall()
    files = conn.execute(
        "SELECT path, content_hash FROM hub_files WHERE repo = %s", (repo,)
    ).fetchall()
    out: dict[str, list[Any]] = {path: [f"file:{digest}|", []] for path, digest in files}
    for path, digest, modules in nodes:
        entry = out.setdefault(path, ["file:-|", []])
        entry[0] += digest
        entry[1] = sorted(modules)
    return out


def _baseline_stamp(conn: psycopg.Connection[Any], repo: str) -> str | None:
    row = conn.execute(
        "SELECT updated_at FROM hub_api_baselines WHERE repo = %s", (repo,)
    ).fetchone()
    return None if row is None else row[0].isoformat()


def _load_state(conn: psycopg.Connection[Any], repo: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM kv WHERE key = %s", (state_key(repo),)).fetchone()
    value = row[0] if row is not None else None
    if not isinstance(value, dict):
        return None
    if not all(isinstance(value.get(k), dict) for k in ("files", "exports")):
        return None
    return value


def _save_state(
    conn: psycopg.Connection[Any],
    repo: str,
    root: Path | None,
    prints: dict[str, list[Any]],
    exports: dict[str, list[str]],
) -> None:
    value = {
        "stamp": _baseline_stamp(conn, repo),
        "root": None if root is None else str(root),
        "files": prints,
        "exports": exports,
    }
    conn.execute(
        "INSERT INTO kv (key, value, repo) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value, repo = EXCLUDED.repo, updated_at = now()",
        (state_key(repo), Jsonb(value), repo),
    )


def changed_files(
    state: dict[str, Any], prints: dict[str, list[Any]], exports: dict[str, list[str]]
) -> set[str]:
    """The files whose symbols may differ from the snapshot's: their own fingerprint moved
    (new, edited, gone), or the re-exports of a name of their module moved."""
    before: dict[str, list[Any]] = state["files"]
    dirty = {p for p in prints.keys() | before.keys() if prints.get(p) != before.get(p)}
    old_exports: dict[str, list[str]] = state["exports"]
    moved = {k for k in exports.keys() | old_exports.keys() if exports.get(k) != old_exports.get(k)}
    if moved:
        # a key is ``{module}.{top-level name}``: the files of that module hold the symbol
        modules = {k.rsplit(".", 1)[0] for k in moved if "." in k}
        for entries in (prints, before):
            dirty.update(p for p, (_, mods) in entries.items() if modules.intersection(mods))
    return dirty


def _compare(
    conn: psycopg.Connection[Any],
    repo: str,
    root: Path | None,
    exports: dict[str, list[str]],
    files: Collection[str] | None,
) -> Detection:
    """The comparison of ``api_surface.detect_api_changes`` over ``files`` (all: None)."""
    now = public_api(conn, repo, root, files=files, exports=exports)
    before = load_snapshot(conn, repo, files)
    save_snapshot(conn, repo, now, before)
    if before is None:
        return Detection(baseline=True)
    changes = diff_surfaces(before, now)
    record_changes(conn, repo, changes)
    return Detection(baseline=False, changes=changes)


def detect_api_changes(conn: psycopg.Connection[Any], repo: str, root: Path | None) -> Detection:
    """What ``api_surface.detect_api_changes`` returns and records, rebuilding only the
    files that moved since the last detection (all of them without a usable state)."""
    exports = _re_exports(conn, repo, root)
    prints = file_fingerprints(conn, repo)
    state = _load_state(conn, repo)
    usable = (
        state is not None
        and state.get("stamp") is not None
        and state.get("stamp") == _baseline_stamp(conn, repo)
        and state.get("root") == (None if root is None else str(root))
    )
    files = changed_files(state, prints, exports) if usable and state is not None else None
    detection = _compare(conn, repo, root, exports, files)
    _save_state(conn, repo, root, prints, exports)
    return detection
