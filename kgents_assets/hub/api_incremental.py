"""``detect_api_changes`` with work proportional to the edit, the same result.

The full comparison (``api_surface.detect_api_changes``) rebuilds the public API of the
whole repository on every refresh: on Django 25k symbols read with their source and hashed,
the stored snapshot parsed back, the re-exports of 639 package ``__init__`` files followed
through their star imports (a query and often a parse per star), 2.2 s for a one-function
edit. A symbol's entry depends only on its file's node rows (a function of the file's
content, its module and the extractor), its file's ``__all__`` and the repository's
re-export map. So the state next to the snapshot (kv ``hub:api:{repo}``, with the
repository's ``repo`` column) keeps each file's content hash and module, the re-export map
and the modules it star-imports; a refresh rebuilds only the files that moved and the
files whose names' re-exports moved, and compares those with the snapshot's symbols of the
same files. Every other file's symbols are equal on both sides by construction: they can
neither appear in the changes nor be rewritten. The re-export map itself is recomputed only
when a package ``__init__`` or a file of a star-imported module moved.

The state is trusted only while it names the snapshot it was saved with (the baseline's
``updated_at``, set in the saving transaction), the same root and the same kgents version
(another extractor may give other rows for the same files); anything else (the first
refresh after an upgrade, a snapshot written by other code) takes the full comparison,
which saves a state for the next one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kgents_assets.hub.api_surface import (
    Detection,
    re_exports,
    star_imports,
)
from kgents_assets.hub.api_surface import detect_api_changes as compare_surfaces
from kgents_assets.version import installed_version

PREFIX = "hub:api:"


def state_key(repo: str) -> str:
    return f"{PREFIX}{repo}"


def file_fingerprints(conn: psycopg.Connection[Any], repo: str) -> dict[str, list[str]]:
    """path -> [content hash, module] of every indexed file of ``repo``.

    A file's node rows are a function of its content, its module (a package marker that
    comes or goes renames the modules beneath it, same content) and the extractor (the
    kgents version, kept beside): so are its symbols, but for the re-exports."""
    rows = conn.execute(
        "SELECT path, content_hash, module FROM hub_files WHERE repo = %s", (repo,)
    ).fetchall()
    return {path: [digest, module or ""] for path, digest, module in rows}


def star_modules(conn: psycopg.Connection[Any], repo: str, root: Path | None) -> list[str]:
    """The modules a package ``__init__`` of ``repo`` star-imports: what ``from m import *``
    binds depends on ``m``'s files as well (``re_exports``)."""
    rows = conn.execute(
        "SELECT module, path FROM hub_files WHERE repo = %s AND path LIKE '%%__init__.py'",
        (repo,),
    ).fetchall()
    return sorted({m for module, path in rows for m in star_imports(root, path, module or "")})


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
    prints: dict[str, list[str]],
    exports: dict[str, list[str]],
    stars: list[str],
) -> None:
    value = {
        "stamp": _baseline_stamp(conn, repo),
        "root": None if root is None else str(root),
        "version": installed_version(),
        "files": prints,
        "exports": exports,
        "star_modules": stars,
    }
    conn.execute(
        "INSERT INTO kv (key, value, repo) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value, repo = EXCLUDED.repo, updated_at = now()",
        (state_key(repo), Jsonb(value), repo),
    )


def moved_files(before: dict[str, list[str]], prints: dict[str, list[str]]) -> set[str]:
    """Files new, gone, edited or moved to another module since the state was saved."""
    return {p for p in prints.keys() | before.keys() if prints.get(p) != before.get(p)}


def exports_may_move(
    moved: set[str],
    before: dict[str, list[str]],
    prints: dict[str, list[str]],
    stars: list[str],
) -> bool:
    """Whether ``re_exports`` may give another map: a package ``__init__`` moved, or a
    file of a module one of them star-imports (that module's names are re-exported)."""
    if any(p.endswith("__init__.py") for p in moved):
        return True
    star = set(stars)
    return any(entry[1] in star for p in moved for entry in (before.get(p), prints.get(p)) if entry)


def changed_files(
    state: dict[str, Any], prints: dict[str, list[str]], exports: dict[str, list[str]]
) -> set[str]:
    """The files whose symbols may differ from the snapshot's: their own fingerprint moved
    (new, edited, gone), or the re-exports of a name of their module moved."""
    before: dict[str, list[str]] = state["files"]
    dirty = moved_files(before, prints)
    old_exports: dict[str, list[str]] = state["exports"]
    moved = {k for k in exports.keys() | old_exports.keys() if exports.get(k) != old_exports.get(k)}
    if moved:
        # a key is ``{module}.{top-level name}``: the files of that module hold the symbol
        modules = {k.rsplit(".", 1)[0] for k in moved if "." in k}
        for entries in (prints, before):
            dirty.update(p for p, (_, module) in entries.items() if module in modules)
    return dirty


def _usable_state(
    conn: psycopg.Connection[Any], repo: str, root: Path | None
) -> dict[str, Any] | None:
    """The saved state, if it was saved with the snapshot there now, for the same root and
    by the same kgents version."""
    state = _load_state(conn, repo)
    usable = (
        state is not None
        and state.get("stamp") is not None
        and state.get("stamp") == _baseline_stamp(conn, repo)
        and state.get("root") == (None if root is None else str(root))
        and state.get("version") == installed_version()
        and isinstance(state.get("star_modules"), list)
    )
    return state if usable else None


def detect_api_changes(conn: psycopg.Connection[Any], repo: str, root: Path | None) -> Detection:
    """What ``api_surface.detect_api_changes`` returns and records, rebuilding only the
    files that moved since the last detection (all of them without a usable state)."""
    prints = file_fingerprints(conn, repo)
    state = _usable_state(conn, repo, root)
    if state is None or exports_may_move(
        moved_files(state["files"], prints), state["files"], prints, state["star_modules"]
    ):
        exports, stars = re_exports(conn, repo, root), star_modules(conn, repo, root)
    else:  # a function of files none of which moved: the map kept is the map now
        exports, stars = state["exports"], state["star_modules"]
    files = None if state is None else changed_files(state, prints, exports)
    detection = compare_surfaces(conn, repo, root, files=files, exports=exports)
    _save_state(conn, repo, root, prints, exports, stars)
    return detection
