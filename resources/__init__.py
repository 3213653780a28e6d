"""Dagster ConfigurableResources shared by every domain of the code location."""

from __future__ import annotations

from typing import Any

from resources.embedder import EmbedderResource, default_embedder_resource
from resources.fixtures import FixturesResource
from resources.llm import LLMResource
from resources.repo import RepoResource
from resources.store import StoreResource
from resources.triage import TriageResource

__all__ = [
    "EmbedderResource",
    "FixturesResource",
    "LLMResource",
    "RepoResource",
    "StoreResource",
    "TriageResource",
    "default_resources",
]


def default_resources() -> dict[str, Any]:
    """Resources bound once in definitions.py, so domains never redefine a key."""
    return {
        "repo": RepoResource(),
        "store": StoreResource(),
        "fixtures": FixturesResource(),
        "llm": LLMResource(),
        "triage": TriageResource(),
        "embedder": default_embedder_resource(),
    }
