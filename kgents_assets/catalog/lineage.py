"""An entry's lineage: the catalog relationships around it, in both directions.

``outgoing`` follows edges from the entry (what it is a successor to, forked from, depends
on, tested by, implements, extends); ``incoming`` follows them backwards (what succeeds it,
forks it, depends on it...). Each direction is walked breadth first, one SQL query per
level, down to ``depth`` edges.

Why a visited set although each kind's graph is acyclic: the catalog refuses cycles per
kind only, so ``a successor_to b`` with ``b depends_on a`` is legal and a walk over all
kinds would go round forever. An entry is expanded once per direction; meeting it again
yields a leaf marked ``repeated`` (the tree says "shown above" instead of looping), so the
tree is finite by construction whatever the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, Field

from kgents_assets.catalog.errors import CatalogError, EntryNotFound
from kgents_assets.catalog.models import EntityType, RelationKind, Status

Direction = Literal["outgoing", "incoming"]
DEFAULT_DEPTH = 3
MAX_DEPTH = 20
#: A lineage is for reading: a hub entry with thousands of dependents would bury the tree.
MAX_CHILDREN = 200


class LineageEntry(BaseModel):
    """The few fields a lineage shows of an entry."""

    id: str
    name: str
    entity_type: EntityType
    status: Status


class LineageNode(BaseModel):
    """One step of the walk: ``entry`` is reached from its parent by ``kind``."""

    kind: RelationKind
    entry: LineageEntry
    children: list[LineageNode] = Field(default_factory=list)
    #: already expanded elsewhere in this direction: not expanded again
    repeated: bool = False
    #: the depth limit stopped the walk here although the entry has further edges
    truncated: bool = False
    #: edges beyond MAX_CHILDREN left out of ``children``
    omitted: int = 0


class Lineage(BaseModel):
    root: LineageEntry
    depth: int
    kinds: list[RelationKind]
    outgoing: list[LineageNode]
    incoming: list[LineageNode]

    def count(self) -> int:
        """How many nodes the tree shows (both directions, the root excluded)."""

        def walk(nodes: list[LineageNode]) -> int:
            return sum(1 + walk(n.children) for n in nodes)

        return walk(self.outgoing) + walk(self.incoming)


_Edge = tuple[str, RelationKind, str]  # (from, kind, to) in the walk's direction


def _edges(
    conn: psycopg.Connection[Any],
    frontier: Sequence[str],
    direction: Direction,
    kinds: Sequence[RelationKind],
) -> dict[str, list[_Edge]]:
    near, far = ("src", "dst") if direction == "outgoing" else ("dst", "src")
    rows = conn.execute(
        f"SELECT {near}, kind, {far} FROM catalog_relationships "
        f"WHERE {near} = ANY(%s) AND kind = ANY(%s) ORDER BY {near}, kind, {far}",
        (list(frontier), [k.value for k in kinds]),
    ).fetchall()
    found: dict[str, list[_Edge]] = {}
    for a, kind, b in rows:
        found.setdefault(a, []).append((a, RelationKind(kind), b))
    return found


def _entries(conn: psycopg.Connection[Any], ids: Iterable[str]) -> dict[str, LineageEntry]:
    rows = conn.execute(
        "SELECT id, name, entity_type, status FROM catalog_entries WHERE id = ANY(%s)",
        (list(ids),),
    ).fetchall()
    return {r[0]: LineageEntry(id=r[0], name=r[1], entity_type=r[2], status=r[3]) for r in rows}


def _walk(
    conn: psycopg.Connection[Any],
    root: str,
    direction: Direction,
    depth: int,
    kinds: Sequence[RelationKind],
) -> list[LineageNode]:
    """The tree of one direction, built level by level (breadth first), so an entry is
    expanded where it is nearest to the root and nowhere else."""
    top: list[LineageNode] = []
    expanded = {root}
    # (entry id, its node or None for the root, the list its children go into)
    frontier: list[tuple[str, LineageNode | None, list[LineageNode]]] = [(root, None, top)]
    for _ in range(depth):
        if not frontier:
            break
        level = _edges(conn, [f[0] for f in frontier], direction, kinds)
        entries = _entries(conn, {e[2] for es in level.values() for e in es[:MAX_CHILDREN]})
        nxt: list[tuple[str, LineageNode | None, list[LineageNode]]] = []
        for entry_id, _, children in frontier:
            edges = level.get(entry_id, [])
            for _, kind, target in edges[:MAX_CHILDREN]:
                first = target not in expanded
                expanded.add(target)
                node = LineageNode(kind=kind, entry=entries[target], repeated=not first)
                children.append(node)
                if first:
                    nxt.append((target, node, node.children))
            if len(edges) > MAX_CHILDREN:
                children[-1].omitted = len(edges) - MAX_CHILDREN
        frontier = nxt
    if frontier:
        beyond = _edges(conn, [f[0] for f in frontier], direction, kinds)
        for entry_id, cut, _ in frontier:
            if cut is not None and entry_id in beyond:
                cut.truncated = True
    return top


def lineage(
    conn: psycopg.Connection[Any],
    entry_id: str,
    *,
    depth: int = DEFAULT_DEPTH,
    kinds: Iterable[RelationKind] | None = None,
) -> Lineage:
    """The relationships around ``entry_id`` up to ``depth`` edges away, both directions.

    Raises ``EntryNotFound`` for an unknown id and ``CatalogError`` for a depth outside
    1..MAX_DEPTH.
    """
    if not 1 <= depth <= MAX_DEPTH:
        raise CatalogError(f"depth must be between 1 and {MAX_DEPTH}, not {depth}")
    chosen = list(dict.fromkeys(kinds)) if kinds is not None else list(RelationKind)
    if not chosen:
        raise CatalogError("choose at least one relationship kind")
    root = _entries(conn, [entry_id]).get(entry_id)
    if root is None:
        raise EntryNotFound(f"no catalog entry {entry_id!r} (see `kg library catalog`)")
    return Lineage(
        root=root,
        depth=depth,
        kinds=chosen,
        outgoing=_walk(conn, entry_id, "outgoing", depth, chosen),
        incoming=_walk(conn, entry_id, "incoming", depth, chosen),
    )
