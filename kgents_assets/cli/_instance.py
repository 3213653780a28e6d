"""The Dagster instance the CLI records runs in: the one every kgents process shares
(``kgents_assets.instance``), under ``$DAGSTER_HOME`` or ``$KGENTS_HOME/dagster``, so CLI
runs show up in ``dagster dev`` and the daemon's runs in ``kg``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance


def get_instance(cwd: Path | None = None) -> DagsterInstance:
    """The shared instance (imports Dagster lazily, so light commands stay light).

    ``cwd`` no longer chooses anything: one instance serves every repository, each a
    partition. It stays so the callers that pass their repository root need no change.
    """
    from kgents_assets.instance import get_instance as shared_instance

    return shared_instance()
