"""Dagster ConfigurableResources shared by every domain of the code location."""

from __future__ import annotations

import os
from typing import Any

from dagster import EnvVar

from kgents_assets.store.database import DATABASE_URL_ENV
from resources.embedder import EmbedderResource, default_embedder_resource
from resources.fixtures import FixturesResource
from resources.llm import LLMResource, llm_resource_from_env
from resources.repo import RepoResource
from resources.store import StoreResource
from resources.triage import TriageResource, triage_resource_from_env

__all__ = [
    "EmbedderResource",
    "FixturesResource",
    "LLMResource",
    "RepoResource",
    "StoreResource",
    "TriageResource",
    "default_resources",
    "llm_resource_from_env",
    "store_resource_from_env",
    "triage_resource_from_env",
]


def store_resource_from_env() -> StoreResource:
    """The database URL (it may hold a password) bound as an ``EnvVar`` when it is set."""
    if os.environ.get(DATABASE_URL_ENV):
        url: Any = EnvVar(DATABASE_URL_ENV)
        return StoreResource(database_url=url)
    return StoreResource()


def default_resources() -> dict[str, Any]:
    """Resources bound once in definitions.py, so domains never redefine a key.

    Settings and secrets that come from the environment are bound as ``EnvVar``s here,
    once: Dagster resolves them when a run starts and shows only the variables' names.
    """
    return {
        "repo": RepoResource(),
        "store": store_resource_from_env(),
        "fixtures": FixturesResource(),
        "llm": llm_resource_from_env(),
        "triage": triage_resource_from_env(),
        "embedder": default_embedder_resource(),
    }
