"""The embedder resource: which model turns catalog text into vectors."""

from __future__ import annotations

import os
from typing import Any

from dagster import ConfigurableResource, EnvVar

from kgents_assets.catalog.embedders import DEFAULT_SPEC, EMBEDDER_ENV, Embedder, get_embedder
from kgents_assets.catalog.embedders.registry import EmbedderSpec, parse_spec


class EmbedderResource(ConfigurableResource["EmbedderResource"]):
    """``backend``: ``hashing`` (default, offline, dependency-free), ``hashing:<dim>``,
    ``sentence-transformers:<name-or-path>``, ``model2vec:<name-or-path>`` or
    ``openai:<model>[@dim]``. A backend that cannot run fails the run with the reason (and
    the extra to install); it is never swapped for another."""

    backend: str = DEFAULT_SPEC

    def spec(self) -> EmbedderSpec:
        return parse_spec(self.backend)

    def get(self) -> Embedder:
        return get_embedder(self.backend)


def default_embedder_resource() -> EmbedderResource:
    """Bound to ``$KGENTS_EMBEDDER`` when it is set (shown as such in the UI)."""
    if os.environ.get(EMBEDDER_ENV):
        backend: Any = EnvVar(EMBEDDER_ENV)
        return EmbedderResource(backend=backend)
    return EmbedderResource()
