"""An optional OpenAI-compatible chat endpoint (a local server or a hosted API).

Nothing is configured by default, and then nothing calls a model: generators fall back to
their seeded, offline versions. Configure with fields (e.g. ``api_key=EnvVar("...")``);
``llm_resource_from_env()`` binds ``KGENTS_LLM_BASE_URL``, ``KGENTS_LLM_MODEL`` and
``KGENTS_LLM_API_KEY`` as ``EnvVar``s, so the key is read by Dagster when a run starts and
the UI shows the variable's name, never its value.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource, EnvVar

if TYPE_CHECKING:
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
        if not self.base_url or not self.model:
            return None
        # Imported here: httpx is for runs that call a model, not for loading definitions.
        from kgents_assets.hotdata.generators.llm import ChatEndpoint

        return ChatEndpoint(self.base_url, self.model, self.api_key or None, self.timeout_seconds)


def llm_resource_from_env() -> LLMResource:
    """The resource with each ``KGENTS_LLM_*`` variable that is set bound as an ``EnvVar``.

    Checked here, once, when the definitions load: an ``EnvVar`` whose variable is unset
    would fail every run that uses the resource, while unset means "no model" here.
    """
    fields: dict[str, Any] = {
        name: EnvVar(env)
        for name, env in (
            ("base_url", BASE_URL_ENV),
            ("model", MODEL_ENV),
            ("api_key", API_KEY_ENV),
        )
        if os.environ.get(env)
    }
    return LLMResource(**fields)
