"""Repository names: partition keys, path components and id prefixes at once."""

from __future__ import annotations

import re
from pathlib import Path

MAX_NAME = 64
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_INVALID_RUN = re.compile(r"[^A-Za-z0-9._-]+")


class InvalidRepoName(ValueError):
    """A name that cannot be a partition key, a directory name and an id prefix."""


def validate_repo_name(name: str) -> str:
    """Return ``name`` when it is usable; else raise with what is wrong with it.

    Refused: empty, over 64 characters, ``/``, ``..``, spaces, anything but letters,
    digits, ``.``, ``_`` and ``-``, or a leading punctuation mark. The name becomes a
    directory under the workspace and a prefix of node ids (``name:hash``), so none of
    these may ever be ambiguous.
    """
    if not name:
        raise InvalidRepoName("a repository name cannot be empty")
    if len(name) > MAX_NAME:
        raise InvalidRepoName(f"repository name {name!r} is over {MAX_NAME} characters")
    if "/" in name or "\\" in name or ".." in name:
        raise InvalidRepoName(f"repository name {name!r} may not contain '/', '\\' or '..'")
    if not _VALID.match(name):
        raise InvalidRepoName(
            f"repository name {name!r} may use only letters, digits, '.', '_' and '-', "
            "and must start with a letter or digit"
        )
    return name


def derive_repo_name(source: str) -> str:
    """A name from a path or URL: its last component, cleaned (``.git`` dropped)."""
    tail = source.rstrip("/").rsplit("/", 1)[-1] if "://" in source else Path(source).name
    if tail.endswith(".git"):
        tail = tail[:-4]
    cleaned = _INVALID_RUN.sub("-", tail).strip("-._")[:MAX_NAME].strip("-._")
    return cleaned or "repo"
