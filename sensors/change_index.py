"""The file-change sensor's cheap question: which files differ from the model's index?

A stat walk of the repository compared with ``hub_files`` (mtime + size per file, kept by
the code_nodes asset). Nothing is read or parsed; a repository of thousands of files
answers in tens of milliseconds. The fingerprint names the exact change set (paths and
their stats), so the same pending change is requested once, and a new edit of the same
file is a new request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.refresh_files import load_file_index
from kgents_assets.hub.scan import compare_with_index, walk_source_files
from kgents_assets.store import Store


@dataclass(frozen=True)
class DetectedChanges:
    changed: tuple[str, ...]  # new, or mtime/size differ from the index
    deleted: tuple[str, ...]  # in the index, gone from disk
    checked: int
    fingerprint: str

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(sorted({*self.changed, *self.deleted}))

    def __bool__(self) -> bool:
        return bool(self.changed or self.deleted)


def detect_changes(root: Path, store: Store, repo: str) -> DetectedChanges:
    """What differs between ``root`` and repository ``repo``'s index."""
    with store.connect() as conn:
        index = load_file_index(conn, repo)
    scan = compare_with_index(
        walk_source_files(root, IgnoreRules.for_repo(root)), index, full_scan=True
    )
    h = hashlib.sha256()
    for item in sorted(scan.candidates, key=lambda c: c.path):
        h.update(f"{item.path}\0{item.mtime_ns}\0{item.size}\n".encode())
    for path in sorted(scan.deleted):
        h.update(f"{path}\0deleted\n".encode())
    return DetectedChanges(
        changed=tuple(sorted(c.path for c in scan.candidates)),
        deleted=tuple(sorted(scan.deleted)),
        checked=scan.scanned,
        fingerprint=h.hexdigest()[:24],
    )
