"""Where the HotData fixtures live."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from kgents_assets.hotdata.catalog import load_specs
from kgents_assets.hotdata.paths import default_fixtures_dir
from kgents_assets.hotdata.registry import HotDataRegistry

if TYPE_CHECKING:  # httpx: only a run that calls a model needs it
    from kgents_assets.hotdata.generators.llm import ChatEndpoint


class FixturesResource(ConfigurableResource["FixturesResource"]):
    """The fixtures directory. Unset means ``$KGENTS_FIXTURES_DIR``, else the project's
    ``fixtures/``."""

    path: str | None = None

    def root(self) -> Path:
        return default_fixtures_dir(self.path)

    def registry(self, llm: ChatEndpoint | None = None) -> HotDataRegistry:
        """Every registered fixture, rooted here; written by ``llm`` where it has a prompt."""
        return HotDataRegistry(self.root(), load_specs(), llm=llm)
