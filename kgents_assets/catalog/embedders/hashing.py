"""The default embedder: signed feature hashing, dependency-free and deterministic.

Features are code-aware tokens (identifiers split into parts, stop words dropped, a light
stemmer) as unigrams, plus adjacent-token bigrams at half weight; counts are damped with
sublinear TF (1 + ln tf) and each feature lands in one of ``dimension`` buckets with a
sign from the same stable hash (blake2b, not Python's salted ``hash``), so collisions cancel
on average instead of piling up. Rows are L2-normalised: cosine is a dot product.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from kgents_assets.catalog.embedders.base import Vectors
from kgents_assets.catalog.text import MAX_EMBED_CHARS, stem, tokens, truncate

VERSION = 1
DEFAULT_DIMENSION = 512
BIGRAM_WEIGHT = 0.5
MIN_DIMENSION, MAX_DIMENSION = 16, 2000  # 2000: pgvector's HNSW limit for `vector`


@lru_cache(maxsize=262_144)
def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, (1.0 if (value >> 63) & 1 else -1.0)


def features(text: str) -> dict[str, float]:
    """Weighted features of one text (exposed for tests and for explaining a match)."""
    words = [stem(t) for t in tokens(truncate(text, MAX_EMBED_CHARS))]
    counts: Counter[str] = Counter()
    for word in words:
        counts[word] += 1
    weighted = {word: 1.0 + math.log(tf) for word, tf in counts.items()}
    bigrams = Counter(f"{a} {b}" for a, b in itertools.pairwise(words) if a != b)
    for gram, tf in bigrams.items():
        weighted[gram] = BIGRAM_WEIGHT * (1.0 + math.log(tf))
    return weighted


class HashingEmbedder:
    """``hashing`` or ``hashing:<dimension>`` (16..2000, default 512)."""

    def __init__(self, dimension: int = DEFAULT_DIMENSION) -> None:
        if not MIN_DIMENSION <= dimension <= MAX_DIMENSION:
            raise ValueError(
                f"hashing dimension must be in {MIN_DIMENSION}..{MAX_DIMENSION}, got {dimension}"
            )
        self._dimension = dimension

    @property
    def id(self) -> str:
        return f"hashing-v{VERSION}:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            vec = out[row]
            for feature, weight in features(text).items():
                index, sign = _bucket(feature, self._dimension)
                vec[index] += sign * weight
            norm = float(np.linalg.norm(vec))
            if norm > 0:
                vec /= norm
        return out
