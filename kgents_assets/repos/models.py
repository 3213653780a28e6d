"""What the store knows of a repository: where its code comes from and when it was read."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from kgents_assets.repos.names import validate_repo_name


class RepoSource(StrEnum):
    LOCAL = "local"  # a checkout on this machine, modelled where it is
    GIT = "git"  # a git URL, cloned into the workspace by the run itself


def looks_like_git_url(location: str) -> bool:
    """``https://``, ``ssh://``, ``git://``, ``file://`` URLs and scp-like ``user@host:path``."""
    if "://" in location:
        return True
    head, sep, _ = location.partition(":")
    return bool(sep) and "@" in head and "/" not in head


class Repository(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    source: RepoSource
    #: the local path (absolute) of a local repository, or the URL of a git repository
    location: str
    #: the branch a git repository follows (None: the remote's default branch)
    branch: str | None = None
    added_at: datetime | None = None
    last_refresh_at: datetime | None = None
    #: the commit the last successful refresh of a git repository read
    last_sha: str | None = None
    last_run_id: str | None = None
    #: the machine a local repository's path is on (None: a git repository, or unknown)
    host: str | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return validate_repo_name(value)

    @property
    def local_path(self) -> Path | None:
        return Path(self.location) if self.source == RepoSource.LOCAL else None
