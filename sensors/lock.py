"""One daemon per repository: an exclusive ``flock`` on ``<repo>/.agentfs/daemon.lock``.

The kernel drops the lock when the process dies, however it dies, so a crashed daemon
never leaves a stale lock behind; the pid inside is only for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class DaemonAlreadyRunning(RuntimeError):
    """Another daemon holds the lock; the message names its pid and the repository."""


class DaemonLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_repo(cls, root: Path) -> DaemonLock:
        return cls(root / ".agentfs" / "daemon.lock")

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DaemonAlreadyRunning(
                f"another `kg hub --watch` (pid {holder}) is already watching "
                f"{self.path.parent.parent}; stop it first (Ctrl-C in its terminal)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

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
