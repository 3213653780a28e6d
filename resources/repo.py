"""The repository the code assets model."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

REPO_ENV = "KGENTS_REPO"


def resolve_repo_root(path: str | None = None) -> Path:
    """``path``, else ``$KGENTS_REPO``, else the current directory; must be a directory."""
    raw = path or os.environ.get(REPO_ENV) or "."
    root = Path(raw).expanduser().resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"repository {raw!r} is not a directory ({root})")
    return root


class RepoResource(ConfigurableResource["RepoResource"]):
    """Which repository to model. Unset means ``$KGENTS_REPO`` or the working directory."""

    path: str | None = None

    def root(self) -> Path:
        return resolve_repo_root(self.path)

    def agentfs(self) -> Path:
        return self.root() / ".agentfs"
