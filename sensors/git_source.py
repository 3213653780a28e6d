"""Git as an event source: HEAD and branch moves become commit/pull/checkout/rewrite events.

Everything goes through the ``git`` command (plumbing with stable output), so any
repository git itself understands works: worktrees, packed refs, detached HEADs.
``GitWatcher.check()`` is cheap and only called when something under the git directory
moved (the daemon) or once per sensor tick (Dagster); it compares the current HEAD with
the last one it saw and says what happened in between.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sensors.events import (
    Event,
    GitBranchSwitch,
    GitCommit,
    GitHistoryRewritten,
    GitPull,
    GitPush,
    RescanRequested,
)

GIT_TIMEOUT_S = 30
#: Files under the git directory whose change means HEAD or a ref may have moved.
GIT_TRIGGER_FILES = frozenset({"HEAD", "ORIG_HEAD", "packed-refs", "FETCH_HEAD"})


class GitError(RuntimeError):
    """A git command failed; the message has git's own explanation."""


class NotAGitRepository(GitError):
    """The path is not inside a git work tree."""


@dataclass(frozen=True)
class HeadState:
    sha: str | None  # None before the first commit
    branch: str | None  # None when detached

    @property
    def detached(self) -> bool:
        return self.sha is not None and self.branch is None

    def describe(self) -> str:
        if self.sha is None:
            return f"branch {self.branch} (no commits yet)"
        if self.branch is None:
            return f"detached HEAD at {self.sha[:10]}"
        return f"{self.branch} at {self.sha[:10]}"


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author: str
    message: str


class GitRepo:
    def __init__(self, root: Path, git_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir

    @classmethod
    def open(cls, path: Path) -> GitRepo:
        if shutil.which("git") is None:
            raise GitError("the `git` command is not installed; git events are unavailable")
        proc = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--show-toplevel", "--absolute-git-dir"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        if proc.returncode != 0:
            raise NotAGitRepository(
                f"{path} is not a git repository ({proc.stderr.strip() or 'no .git found'}); "
                "git events (commit, pull, checkout) are off, file events still work"
            )
        toplevel, git_dir = proc.stdout.splitlines()[:2]
        return cls(Path(toplevel), Path(git_dir))

    def _git(
        self, *args: str, ok_codes: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        if proc.returncode not in ok_codes:
            raise GitError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def head(self) -> HeadState:
        sha_proc = self._git("rev-parse", "--verify", "-q", "HEAD", ok_codes=(0, 1))
        sha = sha_proc.stdout.strip() or None
        ref = self._git("symbolic-ref", "-q", "--short", "HEAD", ok_codes=(0, 1))
        return HeadState(sha=sha, branch=ref.stdout.strip() or None)

    def operation_in_progress(self) -> str | None:
        """ "rebase"/"merge"/... while git is midway through one (HEAD moves are partial)."""
        for name, op in (
            ("rebase-merge", "rebase"),
            ("rebase-apply", "rebase"),
            ("MERGE_HEAD", "merge"),
            ("CHERRY_PICK_HEAD", "cherry-pick"),
            ("REVERT_HEAD", "revert"),
            ("BISECT_LOG", "bisect"),
        ):
            if (self.git_dir / name).exists():
                return op
        return None

    def last_head_move(self) -> str:
        """The reflog subject of HEAD's last move, e.g. ``commit: fix`` or ``pull: ...``."""
        proc = self._git("reflog", "-1", "--format=%gs", "HEAD", ok_codes=(0, 128))
        return proc.stdout.strip()

    def exists(self, sha: str) -> bool:
        proc = self._git("cat-file", "-e", f"{sha}^{{commit}}", ok_codes=(0, 1, 128))
        return proc.returncode == 0

    def is_ancestor(self, old: str, new: str) -> bool:
        proc = self._git("merge-base", "--is-ancestor", old, new, ok_codes=(0, 1))
        return proc.returncode == 0

    def commit(self, sha: str) -> CommitInfo:
        out = self._git("log", "-1", "--format=%H%x00%P%x00%an <%ae>%x00%B", sha).stdout
        full, parents, author, message = out.split("\0", 3)
        return CommitInfo(full, tuple(parents.split()), author, message.strip())

    def changed_paths(self, old: str | None, new: str) -> tuple[str, ...]:
        """Paths that differ between two commits (both sides of a rename)."""
        if old is None:
            args = ["diff-tree", "--root", "-r", "--name-only", "--no-commit-id", "-z", new]
            out = self._git(*args).stdout
            return tuple(sorted({p for p in out.split("\0") if p}))
        out = self._git("diff", "--name-status", "-M", "-z", old, new).stdout
        fields = [f for f in out.split("\0") if f]
        paths: set[str] = set()
        i = 0
        while i < len(fields):
            status = fields[i]
            n = 2 if status[:1] in {"R", "C"} else 1
            paths.update(fields[i + 1 : i + 1 + n])
            i += 1 + n
        return tuple(sorted(paths))

    def remote_refs(self) -> dict[str, str]:
        out = self._git("for-each-ref", "--format=%(refname) %(objectname)", "refs/remotes").stdout
        refs: dict[str, str] = {}
        for line in out.splitlines():
            name, _, sha = line.partition(" ")
            if not name.endswith("/HEAD"):
                refs[name] = sha
        return refs

    def is_trigger(self, abs_path: str) -> bool:
        """Whether a changed file under the git directory can mean HEAD or a ref moved."""
        try:
            rel = Path(abs_path).relative_to(self.git_dir).as_posix()
        except ValueError:
            return False
        if rel.endswith(".lock"):
            return False
        return rel in GIT_TRIGGER_FILES or rel.startswith(("refs/heads/", "refs/remotes/"))


class GitWatcher:
    """Remembers the last HEAD it saw and turns each move into events."""

    def __init__(
        self,
        repo: GitRepo,
        source: str = "git",
        *,
        state: HeadState | None = None,
        remotes: dict[str, str] | None = None,
    ) -> None:
        """Start from ``state``/``remotes`` (a saved cursor) or from the repository now."""
        self.repo = repo
        self.source = source
        self.state = state if state is not None else repo.head()
        self.remotes = remotes if remotes is not None else repo.remote_refs()

    def cursor(self) -> dict[str, object]:
        """What to save to resume later (a Dagster sensor cursor)."""
        return {"sha": self.state.sha, "branch": self.state.branch, "remotes": self.remotes}

    @classmethod
    def from_cursor(cls, repo: GitRepo, data: dict[str, object], source: str = "git") -> GitWatcher:
        sha, branch, remotes = data.get("sha"), data.get("branch"), data.get("remotes")
        return cls(
            repo,
            source,
            state=HeadState(
                sha=sha if isinstance(sha, str) else None,
                branch=branch if isinstance(branch, str) else None,
            ),
            remotes={str(k): str(v) for k, v in remotes.items()}
            if isinstance(remotes, dict)
            else {},
        )

    def check(self) -> list[Event]:
        if self.repo.operation_in_progress() == "rebase":
            return []  # report the rebase once, when it finishes, as one rewrite
        events: list[Event] = []
        new = self.repo.head()
        old = self.state
        if new != old and new.sha is not None:
            events.extend(self._head_moved(old, new))
        self.state = new
        remotes = self.repo.remote_refs()
        for ref, sha in remotes.items():
            if self.remotes.get(ref) != sha and new.sha == sha:
                # A remote-tracking ref moved to exactly our HEAD: we pushed it.
                events.append(
                    GitPush(sha=sha, branch=new.branch, remote_ref=ref, source=self.source)
                )
        self.remotes = remotes
        return events

    def _head_moved(self, old: HeadState, new: HeadState) -> list[Event]:
        assert new.sha is not None
        repo = self.repo
        if old.sha is not None and not repo.exists(old.sha):
            # The old commit is gone (gc after a rewrite): what changed cannot be listed.
            return [
                GitHistoryRewritten(
                    sha=new.sha,
                    branch=new.branch,
                    old_sha=old.sha,
                    operation="unknown (old commit no longer exists)",
                    source=self.source,
                ),
                RescanRequested(reason=f"old HEAD {old.sha[:10]} vanished", source=self.source),
            ]
        changed = repo.changed_paths(old.sha, new.sha)
        if old.branch != new.branch and old.sha is not None:
            return [
                GitBranchSwitch(
                    sha=new.sha,
                    branch=new.branch,
                    old_sha=old.sha,
                    old_branch=old.branch,
                    changed_paths=changed,
                    source=self.source,
                )
            ]
        move = repo.last_head_move()
        operation = move.split(":", 1)[0].strip()
        if old.sha is not None and not repo.is_ancestor(old.sha, new.sha):
            return [
                GitHistoryRewritten(
                    sha=new.sha,
                    branch=new.branch,
                    old_sha=old.sha,
                    operation=_operation_name(operation),
                    changed_paths=changed,
                    source=self.source,
                )
            ]
        if operation.startswith("pull") and old.sha is not None:
            return [
                GitPull(
                    sha=new.sha,
                    branch=new.branch,
                    old_sha=old.sha,
                    changed_paths=changed,
                    source=self.source,
                )
            ]
        info = repo.commit(new.sha)
        return [
            GitCommit(
                sha=new.sha,
                branch=new.branch,
                parent=info.parents[0] if info.parents else None,
                message=info.message,
                author=info.author,
                changed_paths=changed,
                source=self.source,
            )
        ]


def _operation_name(reflog_operation: str) -> str:
    op = reflog_operation.lower()
    for name in ("rebase", "reset", "amend", "cherry-pick", "merge", "checkout", "pull"):
        if name in op:
            return name
    return op or "unknown"
