"""Where a repository's files are for a run: a local checkout where it is, a git
repository's clone in the workspace (fetched and checked out by the run itself)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgents_assets.repos.models import Repository, RepoSource


class RepositoryUnavailable(RuntimeError):
    """The repository's files cannot be reached (a moved checkout, a failed fetch)."""


@dataclass(frozen=True)
class SourceTree:
    root: Path
    #: the commit the tree is at (git repositories; None for a local checkout)
    sha: str | None = None
    fetched: bool = False


def tree_root(repository: Repository, workspace: Path) -> Path:
    """Where the repository's files are, without fetching anything."""
    if repository.source == RepoSource.LOCAL:
        return Path(repository.location)
    return workspace / repository.name


def open_source_tree(
    repository: Repository, workspace: Path, *, sha: str | None = None
) -> SourceTree:
    """The repository's files at ``sha`` (git: fetched and checked out into the workspace;
    None = the branch tip). A failure leaves the previous checkout, and so the model
    built from it, exactly as it was."""
    if repository.source == RepoSource.LOCAL:
        root = Path(repository.location)
        if not repository.location or not root.is_dir():
            raise RepositoryUnavailable(
                f"repository {repository.name!r}: its checkout {repository.location or '?'} "
                "is not a directory (moved or deleted?); `kg repo remove` it or add it again"
            )
        if sha is not None:
            raise RepositoryUnavailable(
                f"repository {repository.name!r} is a local checkout: it is read as it is, "
                f"not at commit {sha}"
            )
        return SourceTree(root)
    from kgents_assets.repos.git_checkout import GitSourceError, checkout

    try:
        done = checkout(
            repository.name,
            repository.location,
            branch=repository.branch,
            sha=sha,
            workspace=workspace,
        )
    except GitSourceError as exc:
        raise RepositoryUnavailable(f"repository {repository.name!r}: {exc}") from exc
    return SourceTree(Path(done.path), done.sha, fetched=True)
