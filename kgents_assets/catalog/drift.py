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
