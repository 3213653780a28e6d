"""Checkouts in other processes: one killed mid-transfer leaves the clone usable (or absent),
and two at once on one clone take turns."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from kgents_assets.repos.git_checkout import GitSourceError, checkout, clone_lock_path
from tests.repos.upstream import Upstream, git, server_url, stalling, tree

_CHILD = """
import json, sys
from pathlib import Path
from kgents_assets.repos.git_checkout import checkout
name, url, sha, workspace = sys.argv[1:5]
co = checkout(name, url, branch=None, sha=sha or None, workspace=Path(workspace))
print(json.dumps({"sha": co.sha, "cloned": co.cloned}))
"""


def _spawn(name: str, url: str, workspace: Path, sha: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, name, url, sha, str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _kill_everything(proc: subprocess.Popen[str]) -> None:
    """What a killed run pod does to its processes: all of them die at once, no cleanup."""
    for pid in [proc.pid, *_descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=30)


def test_a_killed_first_clone_leaves_no_repository_and_the_next_one_cleans_up(
    upstream: Upstream, workspace: Path
) -> None:
    with stalling() as server:
        child = _spawn("proj", server_url(server), workspace)
        assert server.requested.wait(60), child.communicate()
        _kill_everything(child)

    assert not (workspace / "proj").exists()
    leftovers = list((workspace / ".incoming" / "proj").iterdir())
    assert len(leftovers) == 1 and (leftovers[0] / ".git").is_dir()  # half a clone, aside

    co = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace)
    assert (co.cloned, co.sha) == (True, upstream.shas[1])
    assert not (workspace / ".incoming" / "proj").exists()


def test_a_killed_update_leaves_the_previous_checkout_and_the_next_one_works(
    upstream: Upstream, workspace: Path
) -> None:
    clone = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace).path
    (clone / ".agentfs").mkdir()
    (clone / ".agentfs" / "kept.md").write_text("kept\n")
    before = (git(clone, "rev-parse", "HEAD"), tree(clone))
    # What a git killed while it updates refs or the index leaves behind.
    (clone / ".git" / "index.lock").write_text("")
    (clone / ".git" / "refs" / "remotes" / "origin" / "HEAD.lock").write_text("")

    with stalling() as server:
        child = _spawn("proj", server_url(server), workspace)
        assert server.requested.wait(60), child.communicate()
        _kill_everything(child)

    assert (git(clone, "rev-parse", "HEAD"), tree(clone)) == before
    new = upstream.commit({"pkg/after.py": "after = 1\n"})
    co = checkout("proj", upstream.url, branch=None, sha=None, workspace=workspace)
    assert (co.sha, co.cloned) == (new, False)
    assert tree(clone)["pkg/after.py"] == b"after = 1\n"
    assert (clone / ".agentfs" / "kept.md").read_text() == "kept\n"


def test_a_checkout_waits_for_the_clone_lock(upstream: Upstream, workspace: Path) -> None:
    workspace.mkdir()
    held = FileLock(str(clone_lock_path(workspace, "proj")))
    with held, pytest.raises(GitSourceError, match="another process has been updating the clone"):
        checkout(
            "proj", upstream.url, branch=None, sha=None, workspace=workspace, lock_timeout_s=0.2
        )
    assert not (workspace / "proj").exists()


def test_two_processes_checking_out_one_clone_take_turns(
    upstream: Upstream, workspace: Path
) -> None:
    first, second = upstream.shas[0], upstream.shas[1]
    children = [
        _spawn("proj", upstream.url, workspace, first),
        _spawn("proj", upstream.url, workspace, second),
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))

    assert sorted(r["sha"] for r in results) == sorted([first, second])
    assert sorted(r["cloned"] for r in results) == [False, True]  # one cloned, one updated
    clone = workspace / "proj"
    head = git(clone, "rev-parse", "HEAD")
    assert head in (first, second)
    assert git(clone, "status", "--porcelain") == ""
    tracked = set(git(clone, "ls-tree", "-r", "--name-only", head).splitlines())
    assert set(tree(clone)) == tracked
