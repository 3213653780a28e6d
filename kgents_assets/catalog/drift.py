"""Semantic drift of a node: the diff bundle's ``embedding`` part.

The cosine distance between the vector before and after a change: 0 = same meaning as far
as the embedder can tell, 1 = unrelated, 2 = opposite. The hub's rules map a drift above
their threshold to ``search_similar``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from kgents_assets.catalog.embedders.base import Embedder
from kgents_assets.catalog.errors import EmbedderMismatch
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.traces import write_trace


def embedding_drift(old: Sequence[float] | np.ndarray, new: Sequence[float] | np.ndarray) -> float:
    """Cosine distance in [0, 2]; vectors of different dimensions are an error (they come
    from different embedders and cannot be compared), a zero vector has drift 1."""
    a = np.asarray(old, dtype=np.float64).ravel()
    b = np.asarray(new, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise EmbedderMismatch(
            f"cannot compare a {a.size}-dimensional vector with a {b.size}-dimensional one: "
            "they come from different embedders"
        )
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0 if na == nb else 1.0
    cosine = float(np.dot(a, b) / (na * nb))
    return float(min(2.0, max(0.0, 1.0 - cosine)))


def node_embedding_drift(
    conn: psycopg.Connection[Any], state: NodeState, source: str, embedder: Embedder
) -> float | None:
    """Drift of a node's fresh text against the vector the catalog holds for it.

    For the hub's diff bundle, called before the catalog re-embeds the node. None when the
    catalog has no vector for it yet, or one from another embedder (no fair comparison).
    """
    from kgents_assets.catalog import storage
    from kgents_assets.catalog.nodes import node_entry

    storage.prepare(conn)
    stored = storage.entry_vector(conn, state.node_id)
    if stored is None or stored[0] != embedder.id:
        return None
    fresh = embedder.embed([storage.embedding_text(node_entry(state, source))])[0]
    return embedding_drift(stored[1], fresh)


#: Below this cosine distance a change is cosmetic for the embedder: no similar-search.
DRIFT_THRESHOLD = 0.05
SIMILAR_LIMIT = 3


def previous_vectors(
    conn: psycopg.Connection[Any], ids: Sequence[str], embedder: Embedder
) -> dict[str, np.ndarray]:
    """The vectors ``embedder`` gave these entries before: the "before" of their drift."""
    rows = conn.execute(
        "SELECT entry_id, embedding FROM catalog_embeddings "
        "WHERE entry_id = ANY(%s) AND embedder = %s AND dim = %s",
        (list(ids), embedder.id, embedder.dimension),
    ).fetchall()
    return {r[0]: np.asarray(r[1].to_numpy(), dtype=np.float32) for r in rows}


def trace_drift(
    conn: psycopg.Connection[Any],
    node_id: str,
    drift: float,
    vector: np.ndarray,
    dimension: int,
    run_id: str,
) -> bool:
    """The diff bundle's ``embedding`` part for a re-embedded node, decided by rule.

    Drift past the threshold runs ``search_similar`` (its neighbours go in the trace, for a
    person or an agent to look at); below it the candidate is rejected as cosmetic. Either
    way the decision lands in ``hub_traces`` beside the node's other decisions.
    """
    from kgents_assets.catalog.search import semantic_ranking

    if drift >= DRIFT_THRESHOLD:
        ranked = semantic_ranking(conn, vector, dimension, SIMILAR_LIMIT + 1)
        similar = [f"{i} ({sim:.2f})" for i, sim, _entry in ranked if i != node_id]
        decision = {
            "tool": "search_similar",
            "verdict": "approved",
            "reason": f"rule: embedding drift {drift:.3f} >= {DRIFT_THRESHOLD}; similar: "
            + (", ".join(similar[:SIMILAR_LIMIT]) or "none"),
        }
    else:
        decision = {
            "tool": "search_similar",
            "verdict": "rejected",
            "reason": f"rule: embedding drift {drift:.3f} < {DRIFT_THRESHOLD} (cosmetic)",
        }
    write_trace(
        conn,
        run_id=run_id,
        node_id=node_id,
        backend="rules",
        signals=[f"embedding_drift:{drift:.4f}"],
        decisions=[decision],
    )
    return decision["verdict"] == "approved"
