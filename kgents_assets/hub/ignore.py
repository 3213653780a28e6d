"""Which paths of a repository are not part of its code model.

Shared by discovery and the event sources so a file the scanner skips never triggers a
run. Git semantics where they matter: ``.gitignore`` files apply to their own directory
and below; the built-in rules cover what is never source even without a ``.gitignore``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pathspec

#: Directory names that never hold the repository's own source.
IGNORED_DIR_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".agentfs",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        "build",
        "dist",
        "site-packages",
        ".tmp_dagster_home",
    }
)


def _is_ignored_dir_name(name: str) -> bool:
    return (
        name in IGNORED_DIR_NAMES
        or name.endswith(".egg-info")
        or name.startswith(".tmp_dagster_home")
    )


class IgnoreRules:
    """Answers "is this repository-relative path ignored?" for one repository root.

    Runs for every file and directory of every scan, so it works on strings (os.path),
    not pathlib: measured on Django, pathlib objects doubled the cost of a no-op scan.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._base = str(root)
        self._spec_cache: dict[str, pathspec.PathSpec[Any] | None] = {}
        self._venv_cache: dict[str, bool] = {}

    @classmethod
    def for_repo(cls, root: Path) -> IgnoreRules:
        return cls(root.resolve())

    def note_listing(self, rel_dir: str, names: set[str]) -> None:
        """What a walk learned by listing ``rel_dir``: spares a probe per directory."""
        if ".gitignore" not in names:
            self._spec_cache[rel_dir] = None
        self._venv_cache[rel_dir] = "pyvenv.cfg" in names

    def is_virtualenv(self, rel_dir: str) -> bool:
        found = self._venv_cache.get(rel_dir)
        if found is None:
            found = os.path.isfile(os.path.join(self._base, rel_dir, "pyvenv.cfg"))  # noqa: PTH113, PTH118
            self._venv_cache[rel_dir] = found
        return found

    def _specs(self, rel_dir: str) -> pathspec.PathSpec[Any] | None:
        if rel_dir in self._spec_cache:
            return self._spec_cache[rel_dir]
        spec = None
        try:
            gitignore = os.path.join(self._base, rel_dir, ".gitignore")  # noqa: PTH118
            with open(gitignore, encoding="utf-8", errors="replace") as fh:  # noqa: PTH123
                loaded = pathspec.PathSpec.from_lines("gitignore", fh.read().splitlines())
            spec = loaded if loaded.patterns else None
        except OSError:
            pass
        self._spec_cache[rel_dir] = spec
        return spec

    def is_ignored(
        self, rel_path: str, is_dir: bool = False, *, parents_checked: bool = False
    ) -> bool:
        """``rel_path`` is POSIX and relative to the root; ``is_dir`` for directories.

        ``parents_checked`` says every ancestor directory is already known not to be
        ignored (a walk that prunes ignored directories), which skips re-testing them.
        """
        parts = [p for p in rel_path.split("/") if p and p != "."]
        if not parts:
            return False
        if parents_checked:
            name = parts[-1]
            if is_dir and (_is_ignored_dir_name(name) or self.is_virtualenv(rel_path)):
                return True
            for depth in range(len(parts)):
                spec = self._specs("/".join(parts[:depth]))
                sub = "/".join(parts[depth:])
                if spec is not None and spec.match_file(sub + "/" if is_dir else sub):
                    return True
            return False
        dir_parts = parts if is_dir else parts[:-1]
        for i, name in enumerate(dir_parts):
            if _is_ignored_dir_name(name) or self.is_virtualenv("/".join(dir_parts[: i + 1])):
                return True
        # Every .gitignore from the root down to the path's own directory applies.
        for depth in range(len(parts)):
            spec = self._specs("/".join(parts[:depth]))
            if spec is None:
                continue
            sub = "/".join(parts[depth:])
            if spec.match_file(sub + "/" if is_dir else sub):
                return True
            # A pattern naming a directory ignores everything beneath it.
            for j in range(depth + 1, len(parts)):
                if spec.match_file("/".join(parts[depth:j]) + "/"):
                    return True
        return False
