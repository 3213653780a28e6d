"""What every embedder offers: an id, a dimension and unit-length float32 vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """``id`` names the model and its settings: two embedders with the same id give the
    same vectors, so stored vectors stay comparable with new queries.

    An embedder may also set a class attribute ``parallel = True``: it is CPU-bound in
    Python, deterministic and cheap to pickle, so a bulk load embeds with it in a process
    pool (``embedders.pool``); others (a model server, a loaded neural model) run in the
    caller's process."""

    @property
    def id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised row per text, shape ``(len(texts), dimension)``."""
        ...


def l2_normalise(matrix: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length; an all-zero row (no features) stays zero."""
    out = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out
