"""HotData: pre-computed demo and test data that loads instantly and refreshes on a TTL.

Exports resolve lazily so that light users (``kg fixture list``) never import pydantic.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "HotData": "kgents_assets.hotdata.hotdata",
    "RefreshOutcome": "kgents_assets.hotdata.hotdata",
    "HotDataRegistry": "kgents_assets.hotdata.registry",
    "FixtureState": "kgents_assets.hotdata.registry",
    "FixtureStatus": "kgents_assets.hotdata.registry",
    "RefreshReport": "kgents_assets.hotdata.registry",
    "FixtureSpec": "kgents_assets.hotdata.spec",
    "Serializable": "kgents_assets.hotdata.serializable",
    "SerializableModel": "kgents_assets.hotdata.serializable",
    "default_registry": "kgents_assets.hotdata.catalog",
    "load_specs": "kgents_assets.hotdata.catalog",
    "default_fixtures_dir": "kgents_assets.hotdata.paths",
    "validate_fixture_name": "kgents_assets.hotdata.names",
    "HotDataError": "kgents_assets.hotdata.errors",
    "FixtureValidationError": "kgents_assets.hotdata.errors",
    "FixtureMissingError": "kgents_assets.hotdata.errors",
    "FixtureNameError": "kgents_assets.hotdata.errors",
    "GeneratorError": "kgents_assets.hotdata.errors",
    "FixturesNotWritableError": "kgents_assets.hotdata.errors",
    "RefreshInProgressError": "kgents_assets.hotdata.errors",
    "UnknownFixtureError": "kgents_assets.hotdata.errors",
    "FixtureWatcher": "kgents_assets.hotdata.watcher",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
