from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sensors.events import (
    GitBranchSwitch,
    GitCommit,
    GitHistoryRewritten,
    GitPull,
    GitPush,
)
from sensors.git_source import GitRepo, GitWatcher, NotAGitRepository


def test_not_a_git_repository_is_a_clear_error(tmp_path: Path, gh: Any) -> None:
    with pytest.raises(NotAGitRepository, match=r"not a git repository.*file events still work"):
        GitRepo.open(tmp_path)


def test_first_commit_then_commit_with_changed_files(git_repo: Path, gh: Any) -> None:
    watcher = GitWatcher(GitRepo.open(git_repo))
    assert watcher.state.sha is None and watcher.state.branch == "main"
    first = gh.commit_file(git_repo, "pkg/a.py", "x = 1\n", "initial")
    (event,) = watcher.check()
    assert isinstance(event, GitCommit)
    assert event.sha == first and event.parent is None
    assert event.changed_paths == ("pkg/a.py",)
    second = gh.commit_file(git_repo, "pkg/b.py", "y = 2\n", "add b\n\nbody text")
    (event,) = watcher.check()
    assert isinstance(event, GitCommit)
    assert (event.sha, event.parent, event.branch) == (second, first, "main")
    assert event.message == "add b\n\nbody text"
    assert event.changed_paths == ("pkg/b.py",)
    assert event.author == "Ada <ada@example.com>"
    assert watcher.check() == []  # nothing moved, nothing reported


def test_branch_switch_and_detached_head(git_repo: Path, gh: Any) -> None:
    base = gh.commit_file(git_repo, "a.py", "x = 1\n", "base")
    gh.run(git_repo, "checkout", "-q", "-b", "feature")
    feat = gh.commit_file(git_repo, "b.py", "y = 1\n", "feature work")
    gh.run(git_repo, "checkout", "-q", "main")
    watcher = GitWatcher(GitRepo.open(git_repo))
    gh.run(git_repo, "checkout", "-q", "feature")
    (event,) = watcher.check()
    assert isinstance(event, GitBranchSwitch)
    assert (event.old_branch, event.branch, event.old_sha, event.sha) == (
        "main",
        "feature",
        base,
        feat,
    )
    assert event.changed_paths == ("b.py",)
    gh.run(git_repo, "checkout", "-q", "--detach", base)
    (event,) = watcher.check()
    assert isinstance(event, GitBranchSwitch) and event.branch is None
    assert watcher.state.detached
    assert "detached HEAD" in event.summary() and "detached HEAD" in watcher.state.describe()
    # a commit on a detached HEAD is still a commit
    detached = gh.commit_file(git_repo, "c.py", "z = 1\n", "experiment")
    (event,) = watcher.check()
    assert isinstance(event, GitCommit) and event.sha == detached and event.branch is None


def test_rebase_rewriting_history_is_one_rewrite_event(git_repo: Path, gh: Any) -> None:
    gh.commit_file(git_repo, "a.py", "x = 1\n", "base")
    gh.run(git_repo, "checkout", "-q", "-b", "feature")
    gh.commit_file(git_repo, "b.py", "y = 1\n", "feature 1")
    old = gh.commit_file(git_repo, "b.py", "y = 2\n", "feature 2")
    gh.run(git_repo, "checkout", "-q", "main")
    gh.commit_file(git_repo, "main.py", "m = 1\n", "main moves on")
    gh.run(git_repo, "checkout", "-q", "feature")
    watcher = GitWatcher(GitRepo.open(git_repo))
    gh.run(git_repo, "rebase", "-q", "main")
    (event,) = watcher.check()
    assert isinstance(event, GitHistoryRewritten)
    assert event.operation == "rebase" and event.old_sha == old and event.branch == "feature"
    assert "main.py" in event.changed_paths
    assert "history rewritten by rebase" in event.summary()


def test_amend_is_a_rewrite_and_rename_lists_both_paths(git_repo: Path, gh: Any) -> None:
    gh.commit_file(git_repo, "old_name.py", "def f():\n    return 1\n" * 5, "base")
    watcher = GitWatcher(GitRepo.open(git_repo))
    gh.run(git_repo, "mv", "old_name.py", "new_name.py")
    gh.run(git_repo, "commit", "-q", "-m", "rename")
    (event,) = watcher.check()
    assert isinstance(event, GitCommit)
    assert event.changed_paths == ("new_name.py", "old_name.py")
    gh.run(git_repo, "commit", "-q", "--amend", "-m", "rename (reworded)")
    (event,) = watcher.check()
    assert isinstance(event, GitHistoryRewritten) and event.operation == "amend"


def test_pull_and_push_against_a_real_remote(tmp_path: Path, git_repo: Path, gh: Any) -> None:
    gh.commit_file(git_repo, "a.py", "x = 1\n", "base")
    remote = tmp_path / "remote.git"
    gh.run(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    gh.run(git_repo, "remote", "add", "origin", str(remote))
    gh.run(git_repo, "push", "-q", "-u", "origin", "main")
    other = tmp_path / "other"
    gh.run(tmp_path, "clone", "-q", str(remote), str(other))
    gh.commit_file(other, "from_other.py", "o = 1\n", "elsewhere")
    gh.run(other, "push", "-q", "origin", "main")

    watcher = GitWatcher(GitRepo.open(git_repo))
    gh.run(git_repo, "pull", "-q", "--ff-only", "origin", "main")
    events = watcher.check()
    pulls = [e for e in events if isinstance(e, GitPull)]
    assert len(pulls) == 1 and pulls[0].changed_paths == ("from_other.py",)

    sha = gh.commit_file(git_repo, "mine.py", "m = 1\n", "mine")
    watcher.check()
    gh.run(git_repo, "push", "-q", "origin", "main")
    (push,) = watcher.check()
    assert isinstance(push, GitPush)
    assert push.sha == sha and push.remote_ref == "refs/remotes/origin/main"


def test_trigger_files(git_repo: Path, gh: Any) -> None:
    repo = GitRepo.open(git_repo)
    gd = repo.git_dir
    assert repo.is_trigger(str(gd / "HEAD"))
    assert repo.is_trigger(str(gd / "refs/heads/main"))
    assert not repo.is_trigger(str(gd / "refs/heads/main.lock"))
    assert not repo.is_trigger(str(gd / "objects/ab/cdef"))
    assert not repo.is_trigger(str(git_repo / "a.py"))
