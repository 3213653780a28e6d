"""From a spec string (``$KGENTS_EMBEDDER``) to an embedder.

Specs: ``hashing`` / ``hashing:<dim>`` (default), ``sentence-transformers:<name-or-path>``,
``model2vec:<name-or-path>``, ``openai:<model>[@<dim>]``. A spec either yields that exact
embedder or raises ``EmbedderUnavailable``: never another backend in its place.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from kgents_assets.catalog.embedders.base import Embedder
from kgents_assets.catalog.embedders.hashing import DEFAULT_DIMENSION, HashingEmbedder
from kgents_assets.catalog.embedders.hashing import VERSION as HASHING_VERSION
from kgents_assets.catalog.errors import EmbedderUnavailable

DEFAULT_SPEC = "hashing"
EMBEDDER_ENV = "KGENTS_EMBEDDER"
BACKENDS = ("hashing", "sentence-transformers", "model2vec", "openai")


@dataclass(frozen=True)
class EmbedderSpec:
    backend: str
    name: str  # model name or path; the dimension for hashing
    dimension: int | None  # known without loading anything, else None

    @property
    def code_version(self) -> str:
        """What Dagster compares to decide the catalog is stale: backend, model, dimension."""
        if self.backend == "hashing":
            return f"hashing-v{HASHING_VERSION}:{self.dimension}"
        return f"{self.backend}:{self.name}:{self.dimension or 'auto'}"


def _local_model_dimension(name_or_path: str) -> int | None:
    """Read a sentence-transformers directory's pooling config, if it is a local one."""
    from kgents_assets.catalog.embedders.neural import BUNDLED_MINILM, bundled_minilm_path

    if name_or_path.lower() in BUNDLED_MINILM:
        directory = bundled_minilm_path()
        if directory is None:
            return None
    else:
        directory = Path(name_or_path).expanduser()
    config = directory / "1_Pooling" / "config.json"
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def parse_spec(spec: str) -> EmbedderSpec:
    raw = (spec or "").strip()
    backend, _, rest = raw.partition(":")
    backend = backend.lower()
    if backend == "hashing":
        try:
            dim = int(rest) if rest else DEFAULT_DIMENSION
        except ValueError:
            raise EmbedderUnavailable(
                f"bad embedder spec {spec!r}: hashing takes a dimension, e.g. hashing:512"
            ) from None
        return EmbedderSpec("hashing", str(dim), dim)
    if backend not in BACKENDS:
        raise EmbedderUnavailable(
            f"unknown embedder backend {backend!r} in {spec!r}; use one of "
            "hashing[:dim], sentence-transformers:<name-or-path>, model2vec:<name-or-path>, "
            "openai:<model>[@dim]"
        )
    if not rest:
        raise EmbedderUnavailable(f"embedder spec {spec!r} names no model: {backend}:<model>")
    if backend == "openai":
        from kgents_assets.catalog.embedders.openai import KNOWN_DIMENSIONS

        model, _, dim_text = rest.partition("@")
        try:
            openai_dim = int(dim_text) if dim_text else KNOWN_DIMENSIONS.get(model)
        except ValueError:
            raise EmbedderUnavailable(f"bad dimension in embedder spec {spec!r}") from None
        return EmbedderSpec("openai", model, openai_dim)
    if backend == "sentence-transformers":
        return EmbedderSpec(backend, rest, _local_model_dimension(rest))
    return EmbedderSpec(backend, rest, None)


def build_embedder(spec: str) -> Embedder:
    parsed = parse_spec(spec)
    if parsed.backend == "hashing":
        try:
            return HashingEmbedder(parsed.dimension or DEFAULT_DIMENSION)
        except ValueError as exc:
            raise EmbedderUnavailable(f"bad embedder spec {spec!r}: {exc}") from exc
    if parsed.backend == "sentence-transformers":
        from kgents_assets.catalog.embedders.neural import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(parsed.name)
    if parsed.backend == "model2vec":
        from kgents_assets.catalog.embedders.neural import Model2VecEmbedder

        return Model2VecEmbedder(parsed.name)
    from kgents_assets.catalog.embedders.openai import OpenAIEmbedder

    dim_given = "@" in spec
    return OpenAIEmbedder(parsed.name, dimension=parsed.dimension if dim_given else None)


_CACHE: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def get_embedder(spec: str = DEFAULT_SPEC) -> Embedder:
    """A process-wide embedder per spec: loading a neural model costs seconds."""
    key = spec.strip()
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build_embedder(key)
        return _CACHE[key]
