"""The default embedder: signed feature hashing, dependency-free and deterministic.

Features are code-aware tokens (identifiers split into parts, stop words dropped, a light
stemmer) as unigrams, plus adjacent-token bigrams at half weight; counts are damped with
sublinear TF (1 + ln tf) and each feature lands in one of ``dimension`` buckets with a
sign from the same stable hash (blake2b, not Python's salted ``hash``), so collisions cancel
on average instead of piling up. Rows are L2-normalised: cosine is a dot product.

Speed (issue 12: 44k entries on a cold load): a word's stemmed tokens and a feature's
bucket are cached, counting is ``Counter``'s C loop, and a batch's features are added
into the float32 matrix by one ``np.add.at`` in the order the per-feature loop used, so
the sums (and the stored vectors) are the same to the bit.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain, pairwise
from typing import TypeVar

import numpy as np

from kgents_assets.catalog.embedders.base import Vectors
from kgents_assets.catalog.text import MAX_EMBED_CHARS, stem, truncate, word_tokens, words

VERSION = 1
DEFAULT_DIMENSION = 512
BIGRAM_WEIGHT = 0.5
MIN_DIMENSION, MAX_DIMENSION = 16, 2000  # 2000: pgvector's HNSW limit for `vector`
_CACHE = 1 << 18
_K = TypeVar("_K")
_V = TypeVar("_V")


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, (1.0 if (value >> 63) & 1 else -1.0)


class _Memo(dict[_K, _V]):
    """A bounded memo whose hits cost one dict lookup, so ``map(memo.__getitem__, keys)``
    runs without a Python frame per key; emptied when it outgrows ``limit``."""

    def __init__(self, compute: Callable[[_K], _V], limit: int = _CACHE) -> None:
        super().__init__()
        self._compute = compute
        self._limit = limit

    def __missing__(self, key: _K) -> _V:
        if len(self) >= self._limit:
            self.clear()
        value = self[key] = self._compute(key)
        return value


def _damped(tf: int) -> float:
    return 1.0 + math.log(tf)


_DAMPED: _Memo[int, float] = _Memo(_damped)
_BIGRAM_WEIGHT: _Memo[int, float] = _Memo(lambda tf: BIGRAM_WEIGHT * _damped(tf))


class _Codes:
    """A feature's bucket and sign in one int per dimension: bucket for +1, dimension +
    bucket for -1, and 2 * dimension for a bigram of one word repeated (no feature)."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.words: _Memo[str, int] = _Memo(self._word)
        self.pairs: _Memo[tuple[str, str], int] = _Memo(self._pair)

    def _word(self, feature: str) -> int:
        bucket, sign = _bucket(feature, self.dimension)
        return bucket if sign > 0 else self.dimension + bucket

    def _pair(self, pair: tuple[str, str]) -> int:
        a, b = pair
        return 2 * self.dimension if a == b else self._word(f"{a} {b}")


@lru_cache(maxsize=8)
def _codes(dimension: int) -> _Codes:
    return _Codes(dimension)


_STEMMED: _Memo[str, tuple[str, ...]] = _Memo(lambda w: tuple(stem(t) for t in word_tokens(w)))


def _terms(text: str) -> list[str]:
    found = words(truncate(text, MAX_EMBED_CHARS))
    return list(chain.from_iterable(map(_STEMMED.__getitem__, found)))


def features(text: str) -> dict[str, float]:
    """Weighted features of one text (exposed for tests and for explaining a match).

    Order matters to the embedder (float sums): unigrams by first occurrence, then bigrams
    by first occurrence."""
    terms = _terms(text)
    weighted = {word: _DAMPED[tf] for word, tf in Counter(terms).items()}
    for (a, b), tf in Counter(pairwise(terms)).items():
        if a != b:
            weighted[f"{a} {b}"] = _BIGRAM_WEIGHT[tf]
    return weighted


def _row_features(text: str, codes: _Codes, out_codes: list[int], weights: list[float]) -> None:
    """Append one text's feature codes and weights, in ``features`` order."""
    terms = _terms(text)
    unigrams = Counter(terms)
    bigrams = Counter(pairwise(terms))
    out_codes.extend(map(codes.words.__getitem__, unigrams.keys()))
    weights.extend(map(_DAMPED.__getitem__, unigrams.values()))
    out_codes.extend(map(codes.pairs.__getitem__, bigrams.keys()))
    weights.extend(map(_BIGRAM_WEIGHT.__getitem__, bigrams.values()))


class HashingEmbedder:
    """``hashing`` or ``hashing:<dimension>`` (16..2000, default 512)."""

    #: CPU-bound and rebuilt from a pickle in no time: a bulk load embeds in a process pool
    parallel = True

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
        dim = self._dimension
        out = np.zeros((len(texts), dim), dtype=np.float32)
        memo = _codes(dim)
        codes: list[int] = []
        weights: list[float] = []
        counts = np.zeros(len(texts), dtype=np.intp)
        for row, text in enumerate(texts):
            start = len(codes)
            _row_features(text, memo, codes, weights)
            counts[row] = len(codes) - start
        code = np.asarray(codes, dtype=np.intp)
        keep = code < 2 * dim
        signed = np.where(code < dim, 1.0, -1.0) * np.asarray(weights, dtype=np.float64)
        flat = code % dim + np.repeat(np.arange(len(texts), dtype=np.intp) * dim, counts)
        # Each weight is rounded to float32 and added in float32, feature after feature,
        # exactly like `vec[i] += sign * weight` on a float32 row (NumPy 2's scalar rules).
        np.add.at(out.reshape(-1), flat[keep], signed[keep].astype(np.float32))
        for vec in out:
            norm = float(np.linalg.norm(vec))
            if norm > 0:
                vec /= norm
        return out
