"""Clones kept at a commit, against real local bare repositories (and local HTTP servers for
the faults): the tree is exactly the commit asked for, ``.agentfs`` survives, and every
failure leaves the previous checkout as it was."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kgents_assets.repos.git_checkout import (
    Checkout,
    GitSourceError,
    checkout,
    clone_path,
    remote_head,
    remove_clone,
)
from tests.repos.upstream import (
    Upstream,
    closed_port,
    git,
    refusing_login,
    server_url,
    stalling,
    tree,
)

FIRST, SECOND, DEV = 0, 1, 2


def _state(clone: Path) -> tuple[str, dict[str, bytes]]:
    return git(clone, "rev-parse", "HEAD"), tree(clone)


def test_first_checkout_clones_the_default_branch_tip(upstream: Upstream, workspace: Path) -> None:
    co = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace)

    assert co == Checkout(
        path=workspace / "proj", sha=upstream.shas[SECOND], branch=None, fetched=True, cloned=True
    )
    assert tree(co.path) == {
        "README.md": b"one\n",
        "pkg/a.py": b"def a():\n    return 1\n",
        "pkg/b.py": b"def b():\n    return 2\n",
    }
    assert git(co.path, "status", "--porcelain") == ""
    # The URL (a token, for a private remote) is not kept in the clone's config.
    assert upstream.url not in (co.path / ".git" / "config").read_text()
    assert sorted(p.name for p in workspace.iterdir()) == [".incoming", "proj", "proj.lock"]
    assert list((workspace / ".incoming").iterdir()) == []


def test_a_branch_is_followed_and_plain_local_paths_work(
    upstream: Upstream, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(upstream.bare.parent)
    co = checkout("proj", upstream.bare.name, branch="dev", sha=None, workspace=workspace)

    assert (co.sha, co.branch) == (upstream.shas[DEV], "dev")
    assert "pkg/dev.py" in tree(co.path)


def test_new_commit_moves_the_tree_exactly_and_agentfs_survives(
    upstream: Upstream, workspace: Path
) -> None:
    clone = checkout("proj", upstream.url, branch="main", sha=None, workspace=workspace).path
    (clone / ".agentfs" / "nodes" / "pkg").mkdir(parents=True)
    (clone / ".agentfs" / "nodes" / "pkg" / "a.md").write_text("# a\n")
    (clone / "stray.tmp").write_text("left by a tool\n")
    (clone / "pkg" / "a.py").write_text("edited in place\n")
    new = upstream.commit({"pkg/c.py": "c = 3\n"}, delete=("README.md",), msg="third")

    co = checkout("proj", upstream.url, branch="main", sha=None, workspace=workspace)

    assert (co.sha, co.fetched, co.cloned) == (new, True, False)
    assert tree(clone) == {
        ".agentfs/nodes/pkg/a.md": b"# a\n",
        "pkg/a.py": b"def a():\n    return 1\n",
        "pkg/b.py": b"def b():\n    return 2\n",
        "pkg/c.py": b"c = 3\n",
    }
    assert git(clone, "status", "--porcelain") == "?? .agentfs/"


def test_checkout_at_an_older_sha_needs_no_fetch(upstream: Upstream, workspace: Path) -> None:
    checkout("proj", upstream.url, branch="main", sha=None, workspace=workspace)
    first = upstream.shas[FIRST]

    co = checkout("proj", upstream.url, branch="main", sha=first[:12], workspace=workspace)

    assert (co.sha, co.fetched) == (first, False)
    assert sorted(tree(co.path)) == ["README.md", "pkg/a.py"]
    # A commit the clone has not seen yet is fetched, then checked out.
    new = upstream.commit({"pkg/d.py": "d = 4\n"})
    co = checkout("proj", upstream.url, branch="main", sha=new, workspace=workspace)
    assert (co.sha, co.fetched) == (new, True)
    assert "pkg/d.py" in tree(co.path)


def test_first_checkout_at_a_given_sha(upstream: Upstream, workspace: Path) -> None:
    co = checkout(
        "proj", upstream.url, branch="main", sha=upstream.shas[FIRST], workspace=workspace
    )
    assert (co.sha, co.cloned) == (upstream.shas[FIRST], True)
    assert sorted(tree(co.path)) == ["README.md", "pkg/a.py"]


def test_remote_head_reads_refs_without_cloning(upstream: Upstream, tmp_path: Path) -> None:
    assert remote_head(upstream.url, None) == upstream.shas[SECOND]
    assert remote_head(upstream.url, "dev") == upstream.shas[DEV]
    assert remote_head(str(upstream.bare), "refs/heads/main") == upstream.shas[SECOND]
    with pytest.raises(GitSourceError) as err:
        remote_head(upstream.url, "release")
    assert str(err.value) == (
        f"branch 'release' does not exist at {upstream.url}; branches there: dev, main"
    )
    empty = Upstream.create(tmp_path / "empty")
    with pytest.raises(GitSourceError, match="has no default branch"):
        remote_head(empty.url, None)
    with pytest.raises(GitSourceError, match="the remote has no branches"):
        remote_head(empty.url, "main")


def test_missing_branch_names_the_branches_and_keeps_the_checkout(
    upstream: Upstream, workspace: Path
) -> None:
    with pytest.raises(GitSourceError, match=r"branch 'release' does not exist.*dev, main"):
        checkout("proj", upstream.url, branch="release", sha=None, workspace=workspace)
    assert not (workspace / "proj").exists()

    clone = checkout("proj", upstream.url, branch="main", sha=None, workspace=workspace).path
    before = _state(clone)
    with pytest.raises(GitSourceError, match=r"branch 'release' does not exist.*dev, main"):
        checkout("proj", upstream.url, branch="release", sha=None, workspace=workspace)
    assert _state(clone) == before


def test_missing_commit_is_refused_before_the_tree_is_touched(
    upstream: Upstream, workspace: Path
) -> None:
    clone = checkout("proj", upstream.url, branch="main", sha=None, workspace=workspace).path
    before = _state(clone)
    missing = "0123456789abcdef0123456789abcdef01234567"
    with pytest.raises(GitSourceError, match=f"commit {missing} is not on branch 'main' of"):
        checkout("proj", upstream.url, branch="main", sha=missing, workspace=workspace)
    assert _state(clone) == before
    with pytest.raises(GitSourceError, match="is not a commit id"):
        checkout("proj", upstream.url, branch="main", sha="--upload-pack=x", workspace=workspace)


def test_unreachable_url_fails_with_gits_message(upstream: Upstream, workspace: Path) -> None:
    with pytest.raises(GitSourceError) as err:
        checkout("proj", "file:///nonexistent", branch=None, sha=None, workspace=workspace)
    assert "'/nonexistent' does not appear to be a git repository" in str(err.value)
    assert not (workspace / "proj").exists()
    assert list((workspace / ".incoming").iterdir()) == []

    clone = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).path
    before = _state(clone)
    with pytest.raises(GitSourceError, match="does not appear to be a git repository"):
        checkout("proj", "file:///nonexistent", branch=None, sha=None, workspace=workspace)
    with pytest.raises(GitSourceError, match="does not appear to be a git repository"):
        remote_head("file:///nonexistent", None)
    assert _state(clone) == before


def test_closed_port_fails_fast_and_never_shows_the_token(
    upstream: Upstream, workspace: Path
) -> None:
    clone = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).path
    before = _state(clone)
    port = closed_port()
    url = f"https://deploy:s3cr3t-token@127.0.0.1:{port}/team/proj.git"
    started = time.monotonic()
    with pytest.raises(GitSourceError) as err:
        checkout("proj", url, branch="main", sha=None, workspace=workspace, timeout_s=20)
    message = str(err.value)
    assert "timed out" not in message and time.monotonic() - started < 15
    assert "Failed to connect to 127.0.0.1" in message
    assert "s3cr3t-token" not in message
    assert f"https://deploy:***@127.0.0.1:{port}/team/proj.git" in message
    with pytest.raises(GitSourceError) as err:
        remote_head(url, "main", timeout_s=20)
    assert "Failed to connect" in str(err.value) and "s3cr3t" not in str(err.value)
    assert _state(clone) == before


def test_refused_login_fails_at_once_instead_of_prompting(
    upstream: Upstream, workspace: Path
) -> None:
    clone = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).path
    before = _state(clone)
    with refusing_login() as server:
        with pytest.raises(GitSourceError) as err:
            checkout("proj", server_url(server), branch=None, sha=None, workspace=workspace)
        assert "could not read Username" in str(err.value)
        assert "terminal prompts disabled" in str(err.value)
        with pytest.raises(GitSourceError) as err:
            remote_head(server_url(server, userinfo="ci:wrong-password"), None)
        assert "Authentication failed" in str(err.value)
        assert "wrong-password" not in str(err.value)
    assert _state(clone) == before


def test_a_stalled_fetch_is_stopped_and_the_checkout_kept(
    upstream: Upstream, workspace: Path
) -> None:
    clone = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).path
    (clone / ".agentfs").mkdir()
    (clone / ".agentfs" / "kept.md").write_text("kept\n")
    before = _state(clone)
    with stalling() as server:
        with pytest.raises(GitSourceError, match=r"timed out after 1 s and was stopped"):
            checkout(
                "proj", server_url(server), branch=None, sha=None, workspace=workspace, timeout_s=1
            )
        assert server.requested.is_set()  # git was mid-transfer when it was stopped
        with pytest.raises(GitSourceError, match="timed out"):
            remote_head(server_url(server), None, timeout_s=1)
    assert _state(clone) == before
    new = upstream.commit({"pkg/e.py": "e = 5\n"})
    assert checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).sha == new
    assert (clone / ".agentfs" / "kept.md").read_text() == "kept\n"


def test_an_interrupted_first_clone_leaves_nothing_at_the_final_path(
    upstream: Upstream, workspace: Path
) -> None:
    with stalling() as server, pytest.raises(GitSourceError, match="timed out"):
        checkout(
            "proj", server_url(server), branch=None, sha=None, workspace=workspace, timeout_s=1
        )
    assert not (workspace / "proj").exists()
    assert list((workspace / ".incoming").iterdir()) == []
    assert checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).cloned


def test_a_clone_in_the_way_that_is_not_ours_is_reported(
    upstream: Upstream, workspace: Path
) -> None:
    (workspace / "proj").mkdir(parents=True)
    (workspace / "proj" / "notes.txt").write_text("mine\n")
    with pytest.raises(GitSourceError, match="exists but is not a clone"):
        checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace)
    assert (workspace / "proj" / "notes.txt").read_text() == "mine\n"


def test_remove_clone(upstream: Upstream, workspace: Path) -> None:
    assert remove_clone("proj", workspace) is False
    checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace)
    assert remove_clone("proj", workspace) is True
    assert not clone_path(workspace, "proj").exists()


@pytest.mark.parametrize("link", [".agentfs", ".agentfs/nodes"])
def test_a_commit_linking_agentfs_out_of_the_clone_is_refused(
    upstream: Upstream, workspace: Path, tmp_path: Path, link: str
) -> None:
    clone = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).path
    before = _state(clone)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = upstream.author / link
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(outside)
    bad = upstream.commit({}, msg="link .agentfs out")

    with pytest.raises(GitSourceError, match=f"tracks {link} as a symlink"):
        checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace)
    assert _state(clone) == before
    with pytest.raises(GitSourceError, match=f"tracks {link} as a symlink"):
        checkout("other", upstream.url, branch=None, sha=bad, workspace=workspace)
    assert not (workspace / "other").exists()
    assert list(outside.iterdir()) == []


def test_an_empty_remote_is_named_as_such(tmp_path: Path, workspace: Path) -> None:
    empty = Upstream.create(tmp_path / "empty")
    with pytest.raises(GitSourceError, match="has no default branch"):
        checkout("proj", empty.url, branch=None, sha=None, workspace=workspace)
    with pytest.raises(GitSourceError, match=r"branch 'main' does not exist.*no branches"):
        checkout("proj", empty.url, branch="main", sha=None, workspace=workspace)
