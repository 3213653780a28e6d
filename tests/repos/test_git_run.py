"""The git runner: secrets never shown, no inherited repository, no prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgents_assets.repos.git_checkout import checkout
from kgents_assets.repos.git_run import GitSourceError, redact, run_git
from tests.repos.upstream import Upstream, git


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "fatal: unable to access 'https://ci:tok3n@git.example.com/a/b.git/'",
            "fatal: unable to access 'https://ci:***@git.example.com/a/b.git/'",
        ),
        ("https://ci:p@ss@host/x", "https://ci:***@host/x"),
        (
            "ssh://git:pw@host:22/x and http://u:v@h/y",
            "ssh://git:***@host:22/x and http://u:***@h/y",
        ),
        (
            "https://token@host/x git@github.com:org/r.git",
            "https://token@host/x git@github.com:org/r.git",
        ),
        ("https://host:443/x", "https://host:443/x"),
    ],
)
def test_credentials_are_redacted(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert str(GitSourceError(text)) == shown


def test_a_failing_command_reports_gits_own_message() -> None:
    with pytest.raises(GitSourceError) as err:
        run_git(
            ["rev-parse", "--verify", "no-such-ref"],
            what="git rev-parse",
            timeout_s=10,
            cwd=Path("/"),
        )
    assert str(err.value).startswith("git rev-parse failed: fatal: not a git repository")


def test_an_inherited_git_dir_does_not_redirect_the_clone(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As inside a git hook: GIT_DIR/GIT_WORK_TREE point at the author's repository.
    monkeypatch.setenv("GIT_DIR", str(upstream.author / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(upstream.author))
    author_head = git(upstream.author, "rev-parse", "HEAD")
    co = checkout(
        "proj", upstream.url, branch="main", sha=upstream.shas[0], workspace=tmp_path / "ws"
    )
    assert sorted(p.name for p in (co.path / "pkg").iterdir()) == ["a.py"]
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert git(upstream.author, "rev-parse", "HEAD") == author_head
    assert git(upstream.author, "status", "--porcelain") == ""
