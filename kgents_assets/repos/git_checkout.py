"""Repositories given by git URL: ask a remote where a branch is, and keep a clone at a commit.

``remote_head`` is one ``git ls-remote`` (refs only, no objects): cheap enough to poll.
``checkout`` keeps ``workspace/<name>`` a clone whose working tree is exactly one commit:

- First time, the clone is built in ``workspace/.incoming/<name>/`` and renamed into
  place when its tree is checked out, so the final path is either absent or a complete
  checkout — never half a repository, whatever kills the process. Leftovers of a killed
  attempt are removed by the next one (under the lock, so they cannot be in use).
- Later, ``git fetch`` runs first and the commit is verified (``cat-file -e``) before the
  working tree is touched: an unreachable remote, a refused login, a missing branch or
  commit, a timeout, all leave the previous checkout as it was. Only then a detached
  checkout, ``reset --hard`` and ``clean -ffdx`` make the tree that commit exactly, sparing
  ``<clone>/.agentfs/`` (the markdown the pipeline writes there). Those steps are local
  and short; a process killed during them leaves a tree the next checkout repairs (all
  three are forced). A commit that tracks a symlink under ``.agentfs`` is refused: the
  pipeline would write through it, out of the clone.
- The clone is "init + fetch from the URL" rather than ``git clone``: the same fetch as
  every later update, and the URL (which may carry a token) is never written into
  ``.git/config``.
- ``workspace/<name>.lock`` (a file lock) serialises every process that touches one clone.

For the pipeline: git writes the files of a fresh clone (and every file a checkout
changes), so their mtimes are new even when their content is not. The hub compares mtime
and size first and then the content hash, so an unchanged file in a fresh clone costs one
hash, not a parse; the incremental refresh stays incremental.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from kgents_assets.repos.git_refs import (
    HEADS,
    branch_name,
    commit_id,
    missing_branch,
    remote_ref,
    source_arg,
    tracking_ref,
)
from kgents_assets.repos.git_run import GitSourceError, describe_failure, run_git
from kgents_assets.repos.names import validate_repo_name

__all__ = [
    "Checkout",
    "GitSourceError",
    "checkout",
    "clone_lock_path",
    "clone_path",
    "remote_head",
    "remove_clone",
]

LS_REMOTE_TIMEOUT_S = 30.0
#: Per git command of a checkout (the first fetch of a large repository takes minutes).
CHECKOUT_TIMEOUT_S = 900.0
#: Git commands one checkout may run, each bounded by its timeout: a lock waiter gives up
#: only after the holder has certainly finished or died.
_MAX_COMMANDS = 8
AGENTFS = ".agentfs"
_SYMLINK_MODE = "120000"
INCOMING = ".incoming"


@dataclass(frozen=True)
class Checkout:
    path: Path  # the clone, ``workspace/<name>``
    sha: str  # the full id of the commit the working tree now is
    branch: str | None  # the branch followed (None: the remote's default branch)
    fetched: bool  # False when the commit asked for was already in the clone
    cloned: bool  # True when this call made the clone


def clone_path(workspace: Path, name: str) -> Path:
    return workspace / validate_repo_name(name)


def clone_lock_path(workspace: Path, name: str) -> Path:
    return workspace / f"{validate_repo_name(name)}.lock"


def remote_head(url: str, branch: str | None, timeout_s: float = LS_REMOTE_TIMEOUT_S) -> str:
    """The commit ``branch`` (None: the remote's HEAD) points at, without cloning."""
    source = source_arg(url)
    head, branches = _list_remote(source, timeout_s)
    if branch is None:
        if head is None:
            raise GitSourceError(f"{source} has no default branch (HEAD): an empty repository?")
        return head
    name = branch_name(branch)
    if name not in branches:
        raise missing_branch(source, name, list(branches))
    return branches[name]


def checkout(
    name: str,
    url: str,
    *,
    branch: str | None,
    sha: str | None,
    workspace: Path,
    timeout_s: float = CHECKOUT_TIMEOUT_S,
    lock_timeout_s: float | None = None,
) -> Checkout:
    """Make ``workspace/<name>`` a clone of ``url`` checked out at ``sha`` (None: the tip of
    ``branch``, or of the remote's default branch). Raises ``GitSourceError`` with git's
    message and leaves the previous checkout untouched when the commit cannot be had."""
    final = clone_path(workspace, name)
    if name.endswith(".lock"):
        raise GitSourceError(f"repository name {name!r} collides with the clones' lock files")
    source = source_arg(url)
    followed = branch_name(branch) if branch is not None else None
    wanted = commit_id(sha) if sha is not None else None
    workspace.mkdir(parents=True, exist_ok=True)
    lock_wait = lock_timeout_s if lock_timeout_s is not None else timeout_s * _MAX_COMMANDS
    with _clone_lock(workspace, name, lock_wait):
        incoming = workspace / INCOMING / name
        shutil.rmtree(incoming, ignore_errors=True)  # a killed attempt's; nobody else's
        if not final.exists():
            return _clone(final, incoming, source, followed, wanted, timeout_s)
        if not (final / ".git").is_dir():
            raise GitSourceError(
                f"{final} exists but is not a clone made by kgents; move it away to re-clone"
            )
        _clear_stale_git_locks(final / ".git")
        fetched = wanted is None or not _has_commit(final, wanted, timeout_s)
        target = (
            _fetch(final, source, followed, wanted, timeout_s)
            if fetched
            else _resolve(final, f"{wanted}^{{commit}}", timeout_s)
        )
        _place_tree(final, target, timeout_s)
        return Checkout(final, target, followed, fetched=fetched, cloned=False)


def remove_clone(
    name: str, workspace: Path, lock_timeout_s: float = CHECKOUT_TIMEOUT_S * _MAX_COMMANDS
) -> bool:
    """Delete the clone (waiting for a checkout in progress); False when there was none."""
    final = clone_path(workspace, name)
    if not workspace.exists():
        return False
    with _clone_lock(workspace, name, lock_timeout_s):
        shutil.rmtree(workspace / INCOMING / name, ignore_errors=True)
        if not final.exists():
            return False
        shutil.rmtree(final)
        return True


@contextmanager
def _clone_lock(workspace: Path, name: str, timeout_s: float) -> Iterator[None]:
    lock = FileLock(str(clone_lock_path(workspace, name)), timeout=timeout_s)
    try:
        lock.acquire()
    except Timeout:
        raise GitSourceError(
            f"another process has been updating the clone {workspace / name} for over "
            f"{timeout_s:g} s; giving up"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _clone(
    final: Path,
    incoming: Path,
    source: str,
    branch: str | None,
    wanted: str | None,
    timeout_s: float,
) -> Checkout:
    incoming.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="clone-", dir=incoming))
    try:
        run_git(["init", "--quiet", str(work)], what=f"git init in {work}", timeout_s=timeout_s)
        target = _fetch(work, source, branch, wanted, timeout_s)
        _place_tree(work, target, timeout_s)
        # Same filesystem, one rename: the clone appears whole or not at all.
        work.rename(final)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)  # the failed attempt, or an empty dir
    return Checkout(final, target, branch, fetched=True, cloned=True)


def _fetch(
    repo: Path, source: str, branch: str | None, wanted: str | None, timeout_s: float
) -> str:
    """Fetch the branch into its tracking ref; return the full id of the commit to check out.

    Touches only ``.git`` (objects and the tracking ref), never the working tree.
    """
    refspec = f"+{remote_ref(branch)}:{tracking_ref(branch)}"
    what = f"git fetch of {remote_ref(branch)} from {source}"
    result = run_git(
        _fetch_args(source, refspec), cwd=repo, what=what, timeout_s=timeout_s, check=False
    )
    if not result.ok:
        message = describe_failure(result)
        if "couldn't find remote ref" in message:
            if branch is None:
                raise GitSourceError(f"{source} has no default branch (HEAD): an empty repository?")
            raise missing_branch(source, branch, _branches_or_none(source, timeout_s))
        raise GitSourceError(f"{what} failed: {message}")
    if wanted is None:
        return _resolve(repo, tracking_ref(branch), timeout_s)
    if not _has_commit(repo, wanted, timeout_s):
        # Not in the branch's history: servers usually hand out any commit they have by id.
        by_id = run_git(
            _fetch_args(source, wanted), cwd=repo, what="", timeout_s=timeout_s, check=False
        )
        if not _has_commit(repo, wanted, timeout_s):
            where = f"on branch {branch!r} of" if branch is not None else "in"
            raise GitSourceError(
                f"commit {wanted} is not {where} {source}"
                + ("" if by_id.ok else f" (fetch by id: {describe_failure(by_id)})")
            )
    return _resolve(repo, f"{wanted}^{{commit}}", timeout_s)


def _fetch_args(source: str, refspec: str) -> list[str]:
    return ["fetch", "--no-tags", "--no-recurse-submodules", "--", source, refspec]


def _place_tree(repo: Path, sha: str, timeout_s: float) -> None:
    """The working tree becomes exactly ``sha``; ``.agentfs/`` at the root is kept."""
    _refuse_agentfs_links(repo, sha, timeout_s)
    for args in (
        ["checkout", "--quiet", "--force", "--detach", sha],
        ["reset", "--quiet", "--hard", sha],
        ["clean", "-ffdxq", "-e", f"/{AGENTFS}"],
    ):
        run_git(args, cwd=repo, what=f"git {args[0]} of {sha[:12]} in {repo}", timeout_s=timeout_s)


def _refuse_agentfs_links(repo: Path, sha: str, timeout_s: float) -> None:
    """The pipeline writes markdown under ``<clone>/.agentfs/``: a commit that tracks a
    symlink there (``.agentfs -> /somewhere``) would have it write outside the clone. Such a
    commit is refused before the working tree is touched."""
    listing = run_git(
        ["ls-tree", "-r", "--full-tree", sha, "--", AGENTFS],
        cwd=repo,
        what=f"git ls-tree {sha[:12]} {AGENTFS}",
        timeout_s=timeout_s,
    ).stdout
    for line in listing.splitlines():
        meta, _, path = line.partition("\t")
        mode = meta.split(" ", 1)[0]
        if mode == _SYMLINK_MODE or path == AGENTFS:
            kind = "a symlink" if mode == _SYMLINK_MODE else "a file"
            raise GitSourceError(
                f"commit {sha[:12]} tracks {path} as {kind}; kgents writes its markdown under "
                f"{AGENTFS}/ and does not follow links out of a clone, so it will not check "
                "this commit out"
            )


def _has_commit(repo: Path, sha: str, timeout_s: float) -> bool:
    args = ["cat-file", "-e", f"{sha}^{{commit}}"]
    return run_git(args, cwd=repo, what="", timeout_s=timeout_s, check=False).ok


def _resolve(repo: Path, rev: str, timeout_s: float) -> str:
    args = ["rev-parse", "--verify", "--quiet", rev]
    return run_git(args, cwd=repo, what=f"git rev-parse {rev}", timeout_s=timeout_s).stdout.strip()


def _clear_stale_git_locks(git_dir: Path) -> None:
    """A git killed mid-command leaves ``index.lock``/``*.lock`` refs that block the next one.

    Safe only because we hold the clone's lock: no git command of ours runs in this clone.
    """
    candidates = [*git_dir.glob("*.lock")]
    refs = git_dir / "refs"
    if refs.is_dir():
        candidates += refs.rglob("*.lock")
    for path in candidates:
        path.unlink(missing_ok=True)


def _list_remote(source: str, timeout_s: float) -> tuple[str | None, dict[str, str]]:
    """(the sha of the remote's HEAD, {branch: sha}) from one ``ls-remote``."""
    out = run_git(
        ["ls-remote", "--", source, "HEAD", f"{HEADS}*"],
        what=f"git ls-remote {source}",
        timeout_s=timeout_s,
    ).stdout
    head: str | None = None
    branches: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == "HEAD":
            head = sha
        elif ref.startswith(HEADS):
            branches[ref.removeprefix(HEADS)] = sha
    return head, branches


def _branches_or_none(source: str, timeout_s: float) -> list[str] | None:
    try:
        return list(_list_remote(source, timeout_s)[1])
    except GitSourceError:
        return None
