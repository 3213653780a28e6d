"""Finding a code node from what a person or an agent types.

A target is one of:

- a node id, ``{repo}:{20 hex}`` (or the bare hash with a repository given);
- ``path:line`` (repository-relative), meaning the innermost node whose lines hold it;
- a name: the full dotted name (``pkg.mod.Class.method``), else the qualified name inside
  its module (``Class.method``), else the bare name, when exactly one node has it.

Each may be written ``{repo}:{target}`` instead of passing the repository. Without a
repository, the lookup searches every repository and answers when exactly one matches.
A miss is a value (``Miss``) whose reason says what to type instead, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg

from kgents_assets.hub.node_ids import ID_HEX_CHARS, REPO_SEPARATOR, repo_of_node_id

_HASH = re.compile(rf"^[0-9a-f]{{{ID_HEX_CHARS}}}$")
_PATH_LINE = re.compile(r"^(?P<path>[^:]+\.[A-Za-z0-9]+):(?P<line>\d+)$")
MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class Found:
    repo: str
    node_id: str


@dataclass(frozen=True)
class Miss:
    reason: str
    repo: str | None = None
    suggestions: list[str] = field(default_factory=list)


def _known_repos(conn: psycopg.Connection[Any]) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM repositories ORDER BY name")]


def _one(rows: list[tuple[str, str, str]], what: str, repo: str | None) -> Found | Miss | None:
    """rows: (repo, node_id, shown name). None = no match, try the next form."""
    if not rows:
        return None
    if len(rows) == 1:
        return Found(rows[0][0], rows[0][1])
    shown = [f"{r[0]}:{r[2]}" if repo is None else r[2] for r in rows[:MAX_SUGGESTIONS]]
    more = f" and {len(rows) - MAX_SUGGESTIONS} more" if len(rows) > MAX_SUGGESTIONS else ""
    return Miss(
        f"{what} is ambiguous: {', '.join(shown)}{more}; give the full name or path:line",
        repo,
        shown,
    )


def _scope(repo: str | None) -> tuple[str, list[Any]]:
    return ("repo = %s AND ", [repo]) if repo is not None else ("", [])


def _by_name(conn: psycopg.Connection[Any], name: str, repo: str | None) -> Found | Miss | None:
    where, params = _scope(repo)
    for column in ("full_name", "qualname", "name"):
        rows = conn.execute(
            f"SELECT repo, node_id, full_name FROM hub_nodes WHERE {where}{column} = %s "
            "ORDER BY repo, full_name LIMIT 50",
            [*params, name],
        ).fetchall()
        found = _one([(r[0], r[1], r[2]) for r in rows], repr(name), repo)
        if found is not None:
            return found
    return None


def _by_line(
    conn: psycopg.Connection[Any], path: str, line: int, repo: str | None
) -> Found | Miss | None:
    where, params = _scope(repo)
    rows = conn.execute(
        f"SELECT repo, node_id, full_name FROM hub_nodes WHERE {where}file_path = %s "
        "AND (extract->>'start_line')::int <= %s AND (extract->>'end_line')::int >= %s "
        "ORDER BY repo, (extract->>'end_line')::int - (extract->>'start_line')::int, "
        "(extract->>'start_line')::int DESC",
        [*params, path, line, line],
    ).fetchall()
    if not rows:
        exists = conn.execute(
            f"SELECT count(*) FROM hub_nodes WHERE {where}file_path = %s", [*params, path]
        ).fetchone()
        if exists and exists[0]:
            return Miss(f"no node of {path} spans line {line}", repo)
        return None
    innermost: dict[str, tuple[str, str, str]] = {}
    for r in rows:  # ordered by span: the first per repository is the innermost
        innermost.setdefault(r[0], (r[0], r[1], r[2]))
    return _one(list(innermost.values()), f"{path}:{line}", repo)


def find_node(conn: psycopg.Connection[Any], target: str, repo: str | None = None) -> Found | Miss:
    """The node ``target`` names (see the module docstring), in ``repo`` if given."""
    text = target.strip()
    if not text:
        return Miss("the target is empty: give a node id, a name or path:line", repo)
    known = _known_repos(conn)
    if repo is not None and repo not in known:
        listed = ", ".join(known) or "none yet (kg repo add)"
        return Miss(f"unknown repository {repo!r}; known: {listed}", None)
    head, sep, rest = text.partition(REPO_SEPARATOR)
    if sep and head in known and not _PATH_LINE.match(text):
        if repo is not None and repo != head:
            return Miss(f"{text!r} is in repository {head!r}, not {repo!r}", repo)
        repo, text = head, rest
    if _HASH.match(text):
        if repo is None:
            return Miss(f"{text!r} is a bare node hash: give its repository", None)
        text = f"{repo}{REPO_SEPARATOR}{text}"
    owner = repo_of_node_id(text)
    if owner is not None and _HASH.match(text.split(REPO_SEPARATOR, 1)[1]):
        row = conn.execute(
            "SELECT repo, node_id FROM hub_nodes WHERE node_id = %s", (text,)
        ).fetchone()
        if row is None:
            return Miss(f"no node {text!r} in repository {owner!r} (removed or renamed?)", owner)
        return Found(row[0], row[1])
    located = _PATH_LINE.match(text)
    if located:
        found = _by_line(conn, located["path"], int(located["line"]), repo)
        if found is not None:
            return found
        return Miss(f"no file {located['path']!r} in the model of {repo or 'any repository'}", repo)
    found = _by_name(conn, text, repo)
    if found is not None:
        return found
    return Miss(f"no node named {text!r} in {repo or 'any repository'}", repo)
