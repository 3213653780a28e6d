"""The repository the code assets model."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from kgents_assets.repo_root import REPO_ENV, resolve_repo_root

__all__ = ["REPO_ENV", "RepoResource", "resolve_repo_root"]


class RepoResource(ConfigurableResource["RepoResource"]):
    """Which repository to model. Unset means ``$KGENTS_REPO`` or the working directory."""

    path: str | None = None

    def root(self) -> Path:
        return resolve_repo_root(self.path)

    def agentfs(self) -> Path:
        return self.root() / ".agentfs"
