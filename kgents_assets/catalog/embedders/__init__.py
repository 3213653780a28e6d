"""Embedders: text to unit vectors, chosen by a spec string (see ``registry``)."""

from kgents_assets.catalog.embedders.base import Embedder, Vectors, l2_normalise
from kgents_assets.catalog.embedders.hashing import HashingEmbedder
from kgents_assets.catalog.embedders.registry import (
    DEFAULT_SPEC,
    EMBEDDER_ENV,
    EmbedderSpec,
    build_embedder,
    get_embedder,
    parse_spec,
)

__all__ = [
    "DEFAULT_SPEC",
    "EMBEDDER_ENV",
    "Embedder",
    "EmbedderSpec",
    "HashingEmbedder",
    "Vectors",
    "build_embedder",
    "get_embedder",
    "l2_normalise",
    "parse_spec",
]
