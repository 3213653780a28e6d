"""Registries rooted in a temporary fixtures directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.hotdata.registry import HotDataRegistry


@pytest.fixture
def fixtures_dir(tmp_path: Path) -> Path:
    root = tmp_path / "fixtures"
    root.mkdir()
    return root


@pytest.fixture
def registry(fixtures_dir: Path) -> HotDataRegistry:
    """Every built-in fixture, none generated yet."""
    return HotDataRegistry(fixtures_dir, BUILTIN_SPECS)
