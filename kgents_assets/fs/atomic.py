"""Atomic file writes: a reader sees the old file or the new one, never a torn one."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write to a temp file in the same directory, then rename over ``path``.

    On any failure the previous file is untouched and the temp file removed. ``fsync``
    adds durability against power loss (file and directory entry); process crashes — the
    case that matters for a killed materialization — are covered by the rename alone.
    """
    # Unique per process and thread, not random: no retry loop, and a killed writer's
    # leftovers match one pattern (``.NAME.*.tmp``) that a later run can sweep.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; best effort (not every filesystem allows it).
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: Path, text: str, *, fsync: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)
