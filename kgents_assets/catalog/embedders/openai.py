"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint (OpenAI, vLLM, Ollama...).

``openai:<model>`` or ``openai:<model>@<dimension>``. The endpoint is
``$KGENTS_OPENAI_BASE_URL`` or ``$OPENAI_BASE_URL`` (default the OpenAI API) and the key
``$OPENAI_API_KEY`` (optional for local servers). When no dimension is given and the model
is not a known one, the first call (a one-word probe) tells it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from kgents_assets.catalog.embedders.base import Vectors, l2_normalise
from kgents_assets.catalog.errors import EmbedderUnavailable
from kgents_assets.catalog.text import MAX_EMBED_CHARS, truncate

DEFAULT_BASE_URL = "https://api.openai.com/v1"
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
BATCH = 128
TIMEOUT_S = 60.0


class OpenAIEmbedder:
    def __init__(
        self,
        model: str,
        *,
        dimension: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._model = model
        self._requested_dimension = dimension
        self._base_url = (
            base_url
            or os.environ.get("KGENTS_OPENAI_BASE_URL")
            or os.environ.get("OPENAI_BASE_URL")
            or DEFAULT_BASE_URL
        ).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=self._base_url, headers=headers, timeout=TIMEOUT_S, transport=transport
        )
        self._dimension = dimension or KNOWN_DIMENSIONS.get(model)

    @property
    def id(self) -> str:
        return f"openai:{self._model}:{self.dimension}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._request(["dimension probe"]).shape[1])
        return self._dimension

    def _request(self, texts: list[str]) -> Vectors:
        payload: dict[str, Any] = {"model": self._model, "input": texts}
        if self._requested_dimension:
            payload["dimensions"] = self._requested_dimension
        try:
            response = self._client.post("/embeddings", json=payload)
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda item: item["index"])
        except httpx.HTTPStatusError as exc:
            raise EmbedderUnavailable(
                f"embedding endpoint {self._base_url} answered {exc.response.status_code} "
                f"for model {self._model!r}: {exc.response.text[:300]}"
            ) from exc
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
            raise EmbedderUnavailable(
                f"embedding endpoint {self._base_url} failed for model {self._model!r}: {exc}"
            ) from exc
        return l2_normalise(np.asarray([item["embedding"] for item in data], dtype=np.float32))

    def embed(self, texts: Sequence[str]) -> Vectors:
        bounded = [truncate(t, MAX_EMBED_CHARS) for t in texts]
        parts = [self._request(bounded[i : i + BATCH]) for i in range(0, len(bounded), BATCH)]
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = np.vstack(parts)
        if self._dimension is not None and out.shape[1] != self._dimension:
            raise EmbedderUnavailable(
                f"model {self._model!r} returned {out.shape[1]}-dimensional vectors, "
                f"expected {self._dimension}"
            )
        self._dimension = int(out.shape[1])
        return out
