"""Atomic file replacement and a per-fixture inter-process lock (``filelock``).

Writes go through the shared ``kgents_assets.fs.atomic`` (temp file, fsync, rename): a
reader sees the previous complete file or the new one, never a torn one. This module adds
the fixture-specific error for a directory that cannot be written, and the lock.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import AsyncIterator
from pathlib import Path

from kgents_assets.fs import atomic as fs_atomic
from kgents_assets.hotdata.errors import FixturesNotWritableError, RefreshInProgressError

LOCK_DIR_NAME = ".locks"


def _not_writable(path: Path, exc: OSError) -> FixturesNotWritableError:
    return FixturesNotWritableError(
        f"cannot write {path}: {exc.strerror or exc}; check the permissions of "
        f"{path.parent} (the previous file, if any, is unchanged)"
    )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably; on failure the old file stays."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a file where the kind directory should be
        raise _not_writable(path, exc) from exc
    try:
        fs_atomic.atomic_write_bytes(path, data, fsync=True)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise _not_writable(path, exc) from exc
        raise


def lock_path(path: Path, lock_dir: Path | None = None) -> Path:
    """The lock file guarding ``path``: in ``lock_dir`` (a registry uses one ``.locks``
    directory at the fixtures root), else in a ``.locks`` directory beside the file."""
    return (lock_dir or path.parent / LOCK_DIR_NAME) / f"{path.name}.lock"


@contextlib.asynccontextmanager
async def file_lock(
    target: Path, *, lock_file: Path | None = None, wait_seconds: float = 60.0, poll: float = 0.05
) -> AsyncIterator[None]:
    """Hold an exclusive lock (``filelock``, an ``flock`` underneath) for ``target`` across
    processes, threads and coroutines: each call takes its own lock on the file.

    Waits without blocking the event loop; raises RefreshInProgressError after
    ``wait_seconds``. The kernel drops the lock if the holder dies, so no stale-lock
    cleanup, and the lock file is left in place (unlinking it would split waiters).
    """
    # filelock (and the asyncio it imports) only when a lock is taken: `kg fixture list`
    # reads this module for LOCK_DIR_NAME and must start fast (tests/cli/test_cli_start.py)
    from filelock import AsyncFileLock, Timeout

    path = lock_file or lock_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _not_writable(path, exc) from exc
    lock = AsyncFileLock(path, poll_interval=poll, run_in_executor=False, preserve_lock_file=True)
    try:
        await lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise RefreshInProgressError(
            f"{target.name} is being refreshed by another process "
            f"(lock {path} held for more than {wait_seconds:g}s); try again later"
        ) from None
    except OSError as exc:  # e.g. a lock directory this user cannot write
        raise _not_writable(path, exc) from exc
    try:
        yield
    finally:
        await lock.release()
