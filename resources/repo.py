"""Which repository a run models and where its files are (a partition key -> a tree)."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from kgents_assets.home import workspace_dir
from kgents_assets.repo_root import REPO_ENV, resolve_repo_root
from kgents_assets.repos.models import Repository
from kgents_assets.repos.registry import get_repository
from kgents_assets.repos.sources import SourceTree, open_source_tree, tree_root
from kgents_assets.store import Store

__all__ = ["REPO_ENV", "RepoResource", "resolve_repo_root"]


class RepoResource(ConfigurableResource["RepoResource"]):
    """``workspace``: where git repositories are cloned (unset: ``$KGENTS_WORKSPACE``, else
    ``$KGENTS_HOME/workspace``). Local repositories are read where they are."""

    workspace: str | None = None

    def workspace_dir(self) -> Path:
        return Path(self.workspace).expanduser() if self.workspace else workspace_dir()

    def repository(self, store: Store, name: str) -> Repository:
        """The registered repository of a partition key (UnknownRepository lists the rest)."""
        return get_repository(store, name)

    def checkout(self, repository: Repository, sha: str | None = None) -> SourceTree:
        return open_source_tree(repository, self.workspace_dir(), sha=sha)

    def root(self, repository: Repository) -> Path:
        return tree_root(repository, self.workspace_dir())
