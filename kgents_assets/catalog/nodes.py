"""Code nodes as catalog entries: one entry per node state, id = the node id."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from pydantic import ValidationError

from kgents_assets.catalog.models import CatalogEntry, EntityType, RelationKind
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.node_ids import repo_of_node_id
from kgents_assets.hub.state_store import node_id_of_key, state_key

log = logging.getLogger(__name__)

#: NodeState fields no catalog entry is made of (see node_entry); ``updated`` is a dict of
#: timestamps per stage: parsing them was a third of validating Django's 44k states
#: (2.7 s -> 1.7 s of CPU without them, issue 12). Removed by one ``jsonb - text[]``: a
#: chain of ``-`` copies each state once per key (Django's 44k: 2.0-2.5 s against 1.1 s).
_UNREAD_STATE_FIELDS = "ARRAY['callers', 'callees', 'summary', 'suggested_test', 'updated']"


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
    """``source`` is the node's code (from ``hub_nodes``): embedding it is what lets a
    question in words find a function whose docstring says little."""
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


def load_node_entries(
    conn: psycopg.Connection[Any], node_ids: Sequence[str], invalid_states: list[str]
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
    sources = dict(
        conn.execute(
            "SELECT node_id, source FROM hub_nodes WHERE node_id = ANY(%b)", (list(states),)
        ).fetchall()
    )
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
