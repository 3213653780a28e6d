"""Code nodes as catalog entries: one entry per node state, id = the node id."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from kgents_assets.catalog.models import CatalogEntry, EntityType, RelationKind
from kgents_assets.catalog.outline import Child, outline
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.node_ids import repo_of_node_id
from kgents_assets.hub.state_store import node_id_of_key, state_key

log = logging.getLogger(__name__)

#: NodeState fields no catalog entry is made of (see node_entry); ``updated`` is a dict of
#: timestamps per stage: parsing them was a third of validating Django's 44k states
#: (2.7 s -> 1.7 s of CPU without them, issue 12). Removed by one ``jsonb - text[]``: a
#: chain of ``-`` copies each state once per key (Django's 44k: 2.0-2.5 s against 1.1 s).
_UNREAD_STATE_FIELDS = "ARRAY['callers', 'callees', 'summary', 'suggested_test', 'updated']"
#: Kinds whose entry holds their outline (see catalog.outline), not their whole source.
OUTLINED_KINDS = ("class", "module")
#: What a node entry's text is made of. 1: every node's whole source; 2: classes and
#: modules outlined. A store whose entries are of another format is rebuilt once by a
#: full reconcile (sync_catalog), which re-embeds only the entries whose text changed.
NODE_ENTRY_FORMAT = 2
NODE_ENTRY_FORMAT_KEY = "catalog:node-entry-format"


def node_entity_type(state: NodeState) -> EntityType:
    return EntityType.TEST if state.is_test else EntityType(state.kind)


def node_description(state: NodeState) -> str:
    """The docstring's summary, else what the signature says.

    Not the hub's ``summary``: it quotes line numbers, so every node below an edit would
    get new text and be re-embedded although nothing about it changed.
    """
    if state.docstring_summary and state.docstring_summary.strip():
        return state.docstring_summary.strip()
    return f"{state.kind} {state.full_name}: {state.signature or state.qualname}"


def node_entry(
    state: NodeState, source: str = "", tested_by: tuple[str, ...] = (), repo: str | None = None
) -> CatalogEntry:
    """``source`` is the node's code (from ``hub_nodes``; a class's or module's outlined,
    see ``entry_sources``): embedding it is what lets a question in words find a function
    whose docstring says little."""
    body = f"{state.signature}\n{source}" if source else state.signature
    keywords = [
        state.language,
        state.kind,
        *(d.lstrip("@").split("(")[0] for d in state.decorators),
    ]
    return CatalogEntry(
        id=state.node_id,
        entity_type=node_entity_type(state),
        name=state.full_name,
        description=node_description(state),
        keywords=tuple(keywords),
        origin="node",
        node_id=state.node_id,
        repo=repo if repo is not None else repo_of_node_id(state.node_id),
        path=state.file_path,
        body=body,
        relationships={RelationKind.TESTED_BY: tested_by}
        if tested_by and not state.is_test
        else {},
        metadata={
            "language": state.language,
            "qualname": state.qualname,
            "start_line": state.start_line,
            "end_line": state.end_line,
            "complexity": state.complexity,
            "source_hash": state.source_hash,
            "markdown_path": state.markdown_path,
        },
    )


def _repo_prefix(node_id: str) -> str:
    return node_id.partition(":")[0]


def _outline_prefix(state: NodeState) -> str:
    """What the qualname of each direct child of ``state`` starts with."""
    return "" if state.kind == "module" else f"{state.qualname}."


class DirectChildren:
    """The definitions of the repositories of ``node_ids`` (of ``files`` only, when
    given), by the parent they are direct children of (a module's top-level definitions,
    a class's members), read in one query. A cold load reads a repository's once for all
    its batches: a query per batch would scan ``hub_nodes`` again each time (Django: 22 x
    ~120 ms); a sync of a few nodes reads only their files'."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        node_ids: Iterable[str],
        files: Sequence[str] | None = None,
    ) -> None:
        self._by_parent: dict[tuple[str, str, str], list[Child]] = {}
        repos = sorted({_repo_prefix(i) for i in node_ids})
        rows = conn.execute(
            "SELECT n.repo, n.file_path, n.qualname, (n.extract->>'start_line')::int, "
            "(n.extract->>'end_line')::int, coalesce(n.extract->>'signature', '') "
            "FROM hub_nodes n WHERE n.repo = ANY(%b) AND n.kind <> 'module'"
            + ("" if files is None else " AND n.file_path = ANY(%b)"),
            (repos,) if files is None else (repos, sorted(set(files))),
        )
        for repo, file_path, qualname, start, end, signature in rows:
            if start is not None and end is not None:
                prefix = qualname[: qualname.rfind(".") + 1]
                self._by_parent.setdefault((repo, file_path, prefix), []).append(
                    Child(start, end, signature)
                )

    def of(self, parent: NodeState) -> list[Child]:
        key = (_repo_prefix(parent.node_id), parent.file_path, _outline_prefix(parent))
        return self._by_parent.get(key, [])


def entry_sources(
    conn: psycopg.Connection[Any],
    states: Mapping[str, NodeState],
    children: DirectChildren | None = None,
) -> dict[str, str]:
    """node id -> the code its entry embeds and indexes: its source from ``hub_nodes``,
    outlined for a class or a module with its direct children as ``hub_nodes`` holds them
    now (read from ``children`` when given), whether or not they changed with it."""
    sources: dict[str, str] = dict(
        conn.execute(
            "SELECT node_id, source FROM hub_nodes WHERE node_id = ANY(%b)", (list(states),)
        ).fetchall()
    )
    parents = [s for i, s in states.items() if s.kind in OUTLINED_KINDS and sources.get(i)]
    if not parents:
        return sources
    if children is None:
        ids, files = [p.node_id for p in parents], [p.file_path for p in parents]
        children = DirectChildren(conn, ids, files)
    for parent in parents:
        source = sources[parent.node_id]
        sources[parent.node_id] = outline(source, _first_line(parent, source), children.of(parent))
    return sources


def _first_line(state: NodeState, source: str) -> int:
    """The file line ``source`` starts at. Not the state's ``start_line``: that is the
    ``def``/``class`` line, and a decorated definition's source starts at its first
    decorator; both end at ``end_line``."""
    return state.start_line if state.kind == "module" else state.end_line - source.count("\n")


def stored_entry_format(conn: psycopg.Connection[Any]) -> int | None:
    """The format the stored node entries are of: the recorded one, else 1 when there are
    node entries (written before formats were recorded), else None (none stored)."""
    row = conn.execute("SELECT value FROM kv WHERE key = %s", (NODE_ENTRY_FORMAT_KEY,)).fetchone()
    if row is not None:
        return int(row[0]["format"])
    has_nodes = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM catalog_entries WHERE origin = 'node')"
    ).fetchone()
    return 1 if has_nodes and has_nodes[0] else None


def record_entry_format(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value, updated_at = now()",
        (NODE_ENTRY_FORMAT_KEY, Jsonb({"format": NODE_ENTRY_FORMAT})),
    )


def load_node_entries(
    conn: psycopg.Connection[Any],
    node_ids: Sequence[str],
    invalid_states: list[str],
    children: DirectChildren | None = None,
) -> tuple[list[CatalogEntry], list[str]]:
    """(entries for the ids that have a state, in id order; ids that have none). Ids whose
    state does not validate are appended to ``invalid_states`` (and are in neither)."""
    states: dict[str, NodeState] = {}
    # The catalog reads none of a state's call edges or prose (up to 50 callers and all
    # callees each): left in Postgres, and the rest validated straight from JSON text,
    # they cost a fraction of building 44k dicts and validating them (issue 12).
    # Id arrays go as binary parameters (%b) throughout: psycopg builds a text-format
    # array literal in Python with a regex test per element (a cold load of Django: ~2 s
    # of CPU for its id arrays, against a fraction so).
    rows = conn.execute(
        f"SELECT key, (value - {_UNREAD_STATE_FIELDS})::text FROM kv WHERE key = ANY(%b)",
        ([state_key(i) for i in node_ids],),
    ).fetchall()
    for key, value in rows:
        node_id = node_id_of_key(key)
        try:
            states[node_id] = NodeState.model_validate_json(value)
        except ValidationError as exc:
            log.warning("node state %s does not validate, left for the next run: %s", key, exc)
            invalid_states.append(node_id)
    sources = entry_sources(conn, states, children)
    wanted_tests = sorted(
        {(_repo_prefix(i), t) for i, s in states.items() if not s.is_test for t in s.related_tests}
    )
    test_ids: dict[tuple[str, str], list[str]] = {}
    for repo, node_id, full_name in conn.execute(
        "SELECT n.repo, n.node_id, n.full_name FROM hub_nodes n "
        "JOIN unnest(%b::text[], %b::text[]) AS w(repo, full_name) "
        "ON n.repo = w.repo AND n.full_name = w.full_name ORDER BY n.node_id",
        ([w[0] for w in wanted_tests], [w[1] for w in wanted_tests]),
    ).fetchall():
        test_ids.setdefault((repo, full_name), []).append(node_id)
    entries = []
    for node_id in sorted(states):
        state = states[node_id]
        repo = _repo_prefix(node_id)
        tested_by = tuple(
            sorted({tid for name in state.related_tests for tid in test_ids.get((repo, name), [])})
        )
        entries.append(node_entry(state, sources.get(node_id) or "", tested_by))
    invalid = set(invalid_states)
    missing = [i for i in node_ids if i not in states and i not in invalid]
    return entries, missing
