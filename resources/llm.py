"""An optional OpenAI-compatible chat endpoint (a local server or a hosted API).

Nothing is configured by default, and then nothing calls a model: generators fall back to
their seeded, offline versions. Configure with fields (e.g. ``api_key=EnvVar("...")``) or
the environment: ``KGENTS_LLM_BASE_URL``, ``KGENTS_LLM_MODEL``, ``KGENTS_LLM_API_KEY``.
"""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from kgents_assets.hotdata.generators.llm import ChatEndpoint

BASE_URL_ENV = "KGENTS_LLM_BASE_URL"
MODEL_ENV = "KGENTS_LLM_MODEL"
API_KEY_ENV = "KGENTS_LLM_API_KEY"


class LLMResource(ConfigurableResource["LLMResource"]):
    """OpenAI-compatible ``base_url`` (ending in ``/v1``), ``model`` and ``api_key``."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_seconds: float = 120.0

    def endpoint(self) -> ChatEndpoint | None:
        """The configured endpoint, or None when no base URL and model are set."""
        base_url = self.base_url or os.environ.get(BASE_URL_ENV)
        model = self.model or os.environ.get(MODEL_ENV)
        if not base_url or not model:
            return None
        api_key = self.api_key or os.environ.get(API_KEY_ENV) or None
        return ChatEndpoint(base_url, model, api_key, self.timeout_seconds)
