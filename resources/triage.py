"""Which triage backend approves node-state updates: ``rules`` (default) or ``llm``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource, EnvVar

from resources.llm import BASE_URL_ENV, MODEL_ENV, LLMResource

if TYPE_CHECKING:
    from kgents_assets.hub.triage import TriageBackend

TRIAGE_ENV = "KGENTS_TRIAGE"


class TriageResource(ConfigurableResource["TriageResource"]):
    """``llm`` uses the OpenAI-compatible endpoint of the ``llm`` resource's settings and
    fails the run with a clear message when none is configured (no silent fallback)."""

    backend: str = "rules"  # or "llm"

    def get_backend(self, llm: LLMResource) -> TriageBackend:
        # Imported here (httpx): loading the definitions needs none of it.
        from kgents_assets.hub.triage import LLMTriage, RulesTriage

        if self.backend == "rules":
            return RulesTriage()
        if self.backend != "llm":
            raise ValueError(f"unknown triage backend {self.backend!r}: use 'rules' or 'llm'")
        endpoint = llm.endpoint()
        if endpoint is None:
            raise ValueError(
                f"triage backend 'llm' needs {BASE_URL_ENV} and {MODEL_ENV} "
                "(an OpenAI-compatible endpoint)"
            )
        return LLMTriage(endpoint.base_url, endpoint.model, endpoint.api_key)


def triage_resource_from_env() -> TriageResource:
    """Bound to ``$KGENTS_TRIAGE`` when it is set (shown as such in the UI)."""
    if os.environ.get(TRIAGE_ENV):
        backend: Any = EnvVar(TRIAGE_ENV)
        return TriageResource(backend=backend)
    return TriageResource()
