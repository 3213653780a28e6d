"""Finding what changed: stat first, hash only what looks changed, parse only what did.

An unchanged file costs one ``stat``. A file whose mtime or size moved is read and hashed
(about a hundred times cheaper than parsing); only a new hash sends it to the parser.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kgents_assets.hub.ignore import IgnoreRules
from kgents_assets.hub.languages import language_for_path

#: a file symlink whose target lies outside the repository is never read: a repository from
#: a URL is untrusted, and a link to a token or key file would leak it into the store
OUTSIDE_ROOT = "symlink resolves outside the repository"


def _escapes(base_real: str, path: str) -> bool:
    target = os.path.realpath(path)
    return target != base_real and not target.startswith(base_real + os.sep)


@dataclass(frozen=True)
class FileStat:
    path: str  # POSIX, relative to the repository root
    mtime_ns: int
    size: int


@dataclass(frozen=True)
class IndexedFile:
    mtime_ns: int
    size: int
    content_hash: str


@dataclass
class ScanResult:
    """Files worth reading, files gone, and what could not even be listed."""

    candidates: list[FileStat] = field(default_factory=list)  # new, or mtime/size moved
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: dict[str, str] = field(default_factory=dict)  # path -> why it was skipped

    @property
    def scanned(self) -> int:
        return len(self.candidates) + self.unchanged


def walk_source_files(root: Path, rules: IgnoreRules) -> Iterator[FileStat | tuple[str, str]]:
    """Every source file under ``root`` not ignored, as a FileStat, or (path, problem).

    Directory symlinks are not followed: a symlink loop cannot trap the walk, and code
    reachable through a link is already scanned where it really lives.
    """
    base = str(root)
    base_real = os.path.realpath(base)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(f"{base}/{rel_dir}" if rel_dir else base))
        except OSError as exc:
            yield rel_dir or ".", f"cannot list directory: {exc.strerror}"
            continue
        rules.note_listing(rel_dir, {e.name for e in entries})
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if not rules.is_ignored(rel, is_dir=True, parents_checked=True):
                    stack.append(rel)
                continue
            if language_for_path(rel) is None or rules.is_ignored(rel, parents_checked=True):
                continue
            if entry.is_symlink() and _escapes(base_real, entry.path):
                yield rel, OUTSIDE_ROOT
                continue
            try:
                st = entry.stat()  # follows a file symlink to what it names
            except OSError as exc:
                yield rel, f"cannot stat: {exc.strerror}"  # broken link, link loop
                continue
            if stat_mod.S_ISREG(st.st_mode):
                yield FileStat(rel, st.st_mtime_ns, st.st_size)
            elif entry.is_symlink() and stat_mod.S_ISDIR(st.st_mode):
                continue
            else:
                yield rel, "not a regular file"


def stat_paths(
    root: Path, paths: Iterable[str], rules: IgnoreRules
) -> Iterator[FileStat | str | tuple[str, str]]:
    """FileStats for an explicit change set; a path that no longer exists comes back as
    str, a symlink out of the repository as (path, problem)."""
    base_real = os.path.realpath(root)
    for rel in dict.fromkeys(p.strip("/") for p in paths):
        if not rel or language_for_path(rel) is None or rules.is_ignored(rel):
            continue
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            continue  # ../ tricks in a change set never read outside the repository
        if _escapes(base_real, str(root / rel)):
            if (root / rel).is_symlink() or any(
                (root / p).is_symlink() for p in Path(rel).parents if str(p) != "."
            ):
                yield rel, OUTSIDE_ROOT
            continue
        try:
            st = (root / rel).stat()
        except FileNotFoundError:
            yield rel
            continue
        except OSError:
            yield rel
            continue
        if stat_mod.S_ISREG(st.st_mode):
            yield FileStat(rel, st.st_mtime_ns, st.st_size)


def compare_with_index(
    found: Iterable[FileStat | tuple[str, str] | str],
    index: Mapping[str, IndexedFile],
    *,
    full_scan: bool,
) -> ScanResult:
    result = ScanResult()
    seen: set[str] = set()
    for item in found:
        if isinstance(item, str):
            if item in index:
                result.deleted.append(item)
            continue
        if isinstance(item, tuple):
            result.problems[item[0]] = item[1]
            if item[1] == OUTSIDE_ROOT:
                if item[0] in index and not full_scan:  # indexed before it became a link out
                    result.deleted.append(item[0])
            else:
                seen.add(item[0])  # a passing problem (unreadable) keeps what we knew
            continue
        seen.add(item.path)
        known = index.get(item.path)
        if known is not None and known.mtime_ns == item.mtime_ns and known.size == item.size:
            result.unchanged += 1
        else:
            result.candidates.append(item)
    if full_scan:
        result.deleted.extend(sorted(p for p in index if p not in seen))
    return result
