"""Which triage backend approves node-state updates: ``rules`` (default) or ``llm``."""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from kgents_assets.hub.triage import LLMTriage, RulesTriage, TriageBackend
from resources.llm import LLMResource

TRIAGE_ENV = "KGENTS_TRIAGE"


class TriageResource(ConfigurableResource["TriageResource"]):
    """``llm`` uses the OpenAI-compatible endpoint of the ``llm`` resource's settings and
    fails the run with a clear message when none is configured (no silent fallback)."""

    backend: str | None = None  # "rules" or "llm"; unset means $KGENTS_TRIAGE, else rules

    def get_backend(self, llm: LLMResource) -> TriageBackend:
        name = self.backend or os.environ.get(TRIAGE_ENV) or "rules"
        if name == "rules":
            return RulesTriage()
        if name != "llm":
            raise ValueError(f"unknown triage backend {name!r}: use 'rules' or 'llm'")
        endpoint = llm.endpoint()
        if endpoint is None:
            raise ValueError(
                "triage backend 'llm' needs KGENTS_LLM_BASE_URL and KGENTS_LLM_MODEL "
                "(an OpenAI-compatible endpoint)"
            )
        return LLMTriage(endpoint.base_url, endpoint.model, endpoint.api_key)
