"""Which files test creation must look at: those that moved since it last looked.

Test creation asks which public functions are new or changed since it last saw them
(``hub_test_seen`` keeps the md5 of each one's source) and forgets the functions that are
gone. Asked of the whole repository, that is two passes over every function's row and
source on each refresh (on Django 14k functions, 70 MB of rows: 0.2-0.7 s for a one-line
edit). Both answers depend only on the node rows of files that moved, because a file's node
rows are a function of its content, its module and the extractor, and nothing but test
creation writes ``hub_test_seen``:

- a file whose fingerprint (content hash, module) is the one recorded after test creation
  last looked, with no function left undone then (``outstanding``: one deferred past the
  per-run limit, or not reached), has every public function's seen hash equal to its
  source's md5 still: none of them can be new or changed;
- a seen function can lose its node only in a file that moved or was removed; the file's
  entry keeps the ids of its public functions, so those are the only rows to check.

The record (kv ``hub:tests:{repo}``, with the ``repo`` column so a removed repository takes
it along) is trusted only while it names the baseline it was made under (its
``created_at``: a repository removed and added again starts over) and the same kgents
version (another extractor may give other node rows for the same file). Without a usable
record, the whole repository is examined, and a record is written for the next refresh.
It is written under the repository's stage lock, which the stages take for their writes,
so the fingerprints, node rows and seen rows it reads belong together.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from kgents_assets.hub.test_files import is_test_file
from kgents_assets.repos.registry import repository_lock_key
from kgents_assets.version import installed_version

PREFIX = "hub:tests:"
#: what makes a node a function test creation may remember (``is_test`` and ``kind`` are
#: functions of the node id: the id hashes the path, kind and qualified name)
FUNCTION_ROWS = "NOT n.is_test AND n.kind IN ('function', 'method')"
#: a qualified name with no part starting with "_" (``public``), said in SQL
PUBLIC_NAME = "('.' || n.qualname) NOT LIKE '%%.\\_%%'"


def state_key(repo: str) -> str:
    return f"{PREFIX}{repo}"


def public(qualname: str, path: str) -> bool:
    """A function test creation writes tests for: no private part, not in a test file."""
    return not any(p.startswith("_") for p in qualname.split(".")) and not is_test_file(path)


def _baseline_stamp(conn: psycopg.Connection[Any], repo: str) -> str | None:
    row = conn.execute(
        "SELECT created_at FROM hub_test_baselines WHERE repo = %s", (repo,)
    ).fetchone()
    return None if row is None else str(row[0].isoformat())


@dataclass
class Scope:
    """The files to examine now (``files`` None: all of them) and the record they come from."""

    files: list[str] | None
    #: path -> [content hash, module, outstanding, [public function ids]] as last recorded
    recorded: dict[str, list[Any]] = field(default_factory=dict)
    #: recorded files that are no longer indexed
    removed: list[str] = field(default_factory=list)

    def known_ids(self, paths: Iterable[str]) -> list[str]:
        return [i for p in paths if p in self.recorded for i in self.recorded[p][3]]


def lock(conn: psycopg.Connection[Any], repo: str) -> None:
    """The repository's stage lock for this transaction (``hub.dirty.stage_lock`` without
    its check that the repository is registered: test creation never refused to run for
    that, and does not start now)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (repository_lock_key(repo),))


def load_scope(conn: psycopg.Connection[Any], repo: str) -> Scope:
    """What moved since the record was written (call with ``lock`` held). The record is
    compared with the index in the database: only the entries of files that moved come
    back (the whole record is ~0.6 MB of JSON on Django)."""
    key = state_key(repo)
    row = conn.execute(
        "SELECT jsonb_typeof(value->'files') = 'object', value->>'version', value->>'stamp' "
        "FROM kv WHERE key = %s",
        (key,),
    ).fetchone()
    usable = (
        row is not None
        and row[0] is True
        and row[1] == installed_version()
        and row[2] is not None
        and row[2] == _baseline_stamp(conn, repo)
    )
    if not usable:
        return Scope(None)
    moved = conn.execute(
        "WITH k AS MATERIALIZED (SELECT value->'files' AS files FROM kv WHERE key = %s) "
        "SELECT f.path, k.files->f.path FROM hub_files f, k WHERE f.repo = %s "
        "AND (k.files->f.path) - 3 IS DISTINCT FROM "
        "jsonb_build_array(f.content_hash, coalesce(f.module, ''), false)",
        (key, repo),
    ).fetchall()
    removed = conn.execute(
        "WITH k AS MATERIALIZED (SELECT value->'files' AS files FROM kv WHERE key = %s) "
        "SELECT e.key, e.value FROM k, jsonb_each(k.files) e WHERE NOT EXISTS "
        "(SELECT 1 FROM hub_files f WHERE f.repo = %s AND f.path = e.key)",
        (key, repo),
    ).fetchall()
    recorded = {path: entry for path, entry in [*moved, *removed] if isinstance(entry, list)}
    return Scope(sorted(p for p, _ in moved), recorded, sorted(p for p, _ in removed))


def forget_removed(
    conn: psycopg.Connection[Any], repo: str, node_ids: Collection[str] | None
) -> None:
    """Forget the seen functions (among ``node_ids``; None: all) whose node is gone."""
    if node_ids is not None and not node_ids:
        return
    among = "" if node_ids is None else "AND s.node_id = ANY(%s) "
    conn.execute(
        f"DELETE FROM hub_test_seen s WHERE s.repo = %s {among}AND NOT EXISTS (SELECT 1 FROM "
        f"hub_nodes n WHERE n.repo = s.repo AND n.node_id = s.node_id AND {FUNCTION_ROWS})",
        (repo,) if node_ids is None else (repo, list(node_ids)),
    )


def changed_public_functions(
    conn: psycopg.Connection[Any], repo: str, files: Collection[str] | None
) -> dict[str, str]:
    """node id -> md5 of its source, for the public functions of ``repo`` (in ``files``;
    None: all) whose md5 is not the one ``hub_test_seen`` remembers (new or changed)."""
    if files is not None and not files:
        return {}
    within = "" if files is None else "AND n.file_path = ANY(%s) "
    rows = conn.execute(
        "SELECT n.node_id, n.qualname, n.file_path, md5(n.source) FROM hub_nodes n "
        "LEFT JOIN hub_test_seen s ON s.repo = n.repo AND s.node_id = n.node_id "
        f"WHERE n.repo = %s {within}AND {FUNCTION_ROWS} AND {PUBLIC_NAME} "
        "AND s.source_hash IS DISTINCT FROM md5(n.source)",
        (repo,) if files is None else (repo, list(files)),
    ).fetchall()
    return {node_id: digest for node_id, qual, path, digest in rows if public(qual, path)}


def record(
    conn: psycopg.Connection[Any], repo: str, scope: Scope, files: Collection[str] | None
) -> dict[str, list[Any]]:
    """Write the record for ``files`` (None: every file; the others keep their entries):
    each one's fingerprint, its public functions and whether one of them is still new or
    changed (``outstanding``). A recorded file no longer indexed is dropped, its functions
    forgotten first. Call with ``lock`` held, after the seen rows were written; returns
    the entries written."""
    within = "" if files is None else "AND f.path = ANY(%s) "
    rows = conn.execute(
        "SELECT f.path, f.content_hash, f.module, n.node_id, n.qualname, "
        "s.source_hash IS DISTINCT FROM md5(n.source) FROM hub_files f "
        f"LEFT JOIN hub_nodes n ON n.repo = f.repo AND n.file_path = f.path AND {FUNCTION_ROWS} "
        f"AND {PUBLIC_NAME} "
        "LEFT JOIN hub_test_seen s ON s.repo = n.repo AND s.node_id = n.node_id "
        f"WHERE f.repo = %s {within}ORDER BY f.path, n.node_id",
        (repo,) if files is None else (repo, sorted(files)),
    ).fetchall()
    fresh: dict[str, list[Any]] = {}
    for path, digest, module, node_id, qualname, differs in rows:
        entry = fresh.setdefault(path, [digest, module or "", False, []])
        if node_id is not None and public(qualname, path):
            entry[3].append(node_id)
            entry[2] = entry[2] or bool(differs)
    if files is None:
        value = {
            "stamp": _baseline_stamp(conn, repo),
            "version": installed_version(),
            "files": fresh,
        }
        conn.execute(
            "INSERT INTO kv (key, value, repo) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
            "SET value = EXCLUDED.value, repo = EXCLUDED.repo, updated_at = now()",
            (state_key(repo), Jsonb(value), repo),
        )
        return fresh
    gone = sorted(p for p in files if p not in fresh)
    forget_removed(conn, repo, scope.known_ids(gone))
    # only the entries of ``files`` travel; the rest of the record stays as it is
    conn.execute(
        "UPDATE kv SET value = jsonb_set(value, '{files}', (value->'files') - %s::text[] || %s), "
        "updated_at = now() WHERE key = %s",
        (gone, Jsonb(fresh), state_key(repo)),
    )
    return fresh
