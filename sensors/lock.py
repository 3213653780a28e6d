"""One daemon per repository: an exclusive lock (``filelock``, an ``flock`` underneath) on
``<repo>/.agentfs/daemon.lock``.

The kernel drops the lock when the process dies, however it dies, so a crashed daemon
never leaves a stale lock behind. The holder writes its pid into the lock file, only for
the refusal message a second daemon prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout


class DaemonAlreadyRunning(RuntimeError):
    """Another daemon holds the lock; the message names its pid and the repository."""


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


class DaemonLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Not thread-local and not a singleton: a second DaemonLock on the same path, even
        # in this process, is a second daemon and must be refused.
        self._lock = FileLock(
            path,
            blocking=False,
            thread_local=False,
            preserve_lock_file=True,  # the pid stays readable; unlinking would split holders
            on_acquired=_write_pid,
        )

    @classmethod
    def for_repo(cls, root: Path) -> DaemonLock:
        return cls(root / ".agentfs" / "daemon.lock")

    def holder_pid(self) -> str:
        """The pid written by whoever holds (or last held) the lock, or ``unknown``."""
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise DaemonAlreadyRunning(
                f"another `kg hub --watch` (pid {self.holder_pid()}) is already watching "
                f"{self.path.parent.parent}; stop it first (Ctrl-C in its terminal)"
            ) from None

    def release(self) -> None:
        if self._lock.is_locked:
            # Clear the pid while still holding the lock, so no one reads a dead daemon's.
            with self.path.open("r+b") as held:
                held.truncate(0)
            self._lock.release()

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
