"""The local Dagster instance the CLI records runs in.

``$DAGSTER_HOME`` when set (the same instance `dagster dev` and the daemon use), else a
persistent instance under ``<cwd>/.agentfs/dagster`` so CLI runs keep their history and
show up when the webserver is started with ``DAGSTER_HOME=.agentfs/dagster``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance

DEFAULT_DAGSTER_DIR = Path(".agentfs") / "dagster"


def instance_dir(cwd: Path | None = None) -> Path:
    home = os.environ.get("DAGSTER_HOME")
    if home:
        return Path(home)
    return (cwd or Path.cwd()) / DEFAULT_DAGSTER_DIR


def get_instance(cwd: Path | None = None) -> DagsterInstance:
    """The Dagster instance for CLI-triggered materializations (imports Dagster lazily)."""
    from dagster import DagsterInstance

    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    directory = instance_dir(cwd)
    directory.mkdir(parents=True, exist_ok=True)
    return DagsterInstance.from_config(str(directory))
