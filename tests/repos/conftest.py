"""Fixtures of the git-source tests: a real bare upstream and a workspace for clones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repos.upstream import Upstream


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    """A bare repository: two commits on ``main`` (its default branch), one on ``dev``."""
    up = Upstream.create(tmp_path / "remotes")
    up.commit({"pkg/a.py": "def a():\n    return 1\n", "README.md": "one\n"}, msg="first")
    up.commit({"pkg/b.py": "def b():\n    return 2\n"}, msg="second")
    up.commit({"pkg/dev.py": "x = 1\n"}, branch="dev", msg="dev work")
    return up


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "workspace"
