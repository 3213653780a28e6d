"""Code nodes as catalog entries: one entry per node state, id = the node id."""

from __future__ import annotations

from kgents_assets.catalog.models import CatalogEntry, EntityType, RelationKind
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.node_ids import repo_of_node_id


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
