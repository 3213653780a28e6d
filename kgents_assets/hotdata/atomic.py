"""Atomic file replacement and a per-fixture inter-process lock.

A reader sees either the previous complete file or the new complete file, never a torn
one: the new bytes go to a temporary file in the same directory, are fsynced, then
``os.replace``-d over the target (atomic on POSIX within one filesystem).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kgents_assets.hotdata.errors import FixturesNotWritableError, RefreshInProgressError

LOCK_DIR_NAME = ".locks"


def _not_writable(path: Path, exc: OSError) -> FixturesNotWritableError:
    return FixturesNotWritableError(
        f"cannot write {path}: {exc.strerror or exc}; check the permissions of "
        f"{path.parent} (the previous file, if any, is unchanged)"
    )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; on any failure the old file stays."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _not_writable(path, exc) from exc
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise _not_writable(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise _not_writable(path, exc) from exc
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; best effort (not every filesystem allows it).
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def lock_path(path: Path, lock_dir: Path | None = None) -> Path:
    """The lock file guarding ``path``: in ``lock_dir`` (a registry uses one ``.locks``
    directory at the fixtures root), else in a ``.locks`` directory beside the file."""
    return (lock_dir or path.parent / LOCK_DIR_NAME) / f"{path.name}.lock"


@contextlib.asynccontextmanager
async def file_lock(
    target: Path, *, lock_file: Path | None = None, wait_seconds: float = 60.0, poll: float = 0.05
) -> AsyncIterator[None]:
    """Hold an exclusive ``flock`` for ``target`` across processes and threads.

    Polls without blocking the event loop; raises RefreshInProgressError after
    ``wait_seconds``.
    The lock is released by the kernel if the holder dies, so no stale-lock cleanup.
    """
    import asyncio  # lazily: listing fixtures imports this module but never locks

    path = lock_file or lock_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _not_writable(path, exc) from exc
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RefreshInProgressError(
                        f"{target.name} is being refreshed by another process "
                        f"(lock {path} held for more than {wait_seconds:.0f}s); try again later"
                    ) from None
                await asyncio.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
