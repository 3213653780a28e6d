"""Where kgents keeps what is shared by every repository it models on this machine.

One home per user (``$KGENTS_HOME``, default ``~/.kgents``): the embedded PostgreSQL
(``pg/``), the Dagster instance (``dagster/``, unless ``$DAGSTER_HOME`` is set) and the
clones of repositories given by URL (``workspace/``, unless ``$KGENTS_WORKSPACE``). A
repository's own artifacts (markdown under ``<repo>/.agentfs/nodes``) stay in the
repository. Many repositories, one store, one instance: that is what makes them partitions
of one Dagster deployment rather than separate islands.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "KGENTS_HOME"
WORKSPACE_ENV = "KGENTS_WORKSPACE"
DAGSTER_HOME_ENV = "DAGSTER_HOME"


def kgents_home() -> Path:
    raw = os.environ.get(HOME_ENV)
    return Path(raw).expanduser() if raw else Path.home() / ".kgents"


def embedded_store_dir() -> Path:
    """Data directory of the embedded pgserver used when no database URL is configured."""
    return kgents_home() / "pg"


def dagster_home() -> Path:
    raw = os.environ.get(DAGSTER_HOME_ENV)
    return Path(raw).expanduser() if raw else kgents_home() / "dagster"


def workspace_dir() -> Path:
    """Where repositories given by git URL are cloned by the runs themselves."""
    raw = os.environ.get(WORKSPACE_ENV)
    return Path(raw).expanduser() if raw else kgents_home() / "workspace"
