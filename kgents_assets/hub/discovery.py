"""Turning one file's bytes into a FileExtract, whatever the file turns out to hold.

Bad files never stop a scan: binary content, invalid UTF-8, oversized generated files and
unreadable or vanished files each become a status with a message, and a syntax error
still yields the nodes tree-sitter's error recovery finds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from kgents_assets.hub.extract_common import Discovered
from kgents_assets.hub.extract_js import extract_js
from kgents_assets.hub.extract_python import extract_python
from kgents_assets.hub.models import FileExtract, FileStatus

#: Files larger than this are reported, not parsed: generated bundles and data dumps
#: would cost seconds each and describe no one's code.
DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024
_BINARY_SNIFF_BYTES = 8192


def classify_bytes(data: bytes, max_bytes: int) -> tuple[FileStatus, str | None] | None:
    """A status for content that cannot be parsed, or None when it can."""
    if len(data) > max_bytes:
        return FileStatus.TOO_LARGE, f"{len(data):,} bytes exceeds the {max_bytes:,}-byte limit"
    if b"\0" in data[:_BINARY_SNIFF_BYTES]:
        return FileStatus.BINARY, "binary content (NUL bytes) in a source-named file"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return FileStatus.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}"
    return None


def package_dir_checker(root: Path) -> Callable[[str], bool]:
    @cache
    def is_package_dir(rel_dir: str) -> bool:
        return (root / rel_dir / "__init__.py").is_file()

    return is_package_dir


def discover(
    rel_path: str,
    data: bytes,
    language: str,
    is_package_dir: Callable[[str], bool],
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Discovered:
    """The file's extract with its nodes as plain fields (what the parse workers index)."""
    bad = classify_bytes(data, max_bytes)
    if bad is not None:
        return Discovered(
            FileExtract(path=rel_path, language=language, status=bad[0], error=bad[1])
        )
    if language == "python":
        found = extract_python(rel_path, data, is_package_dir)
    else:
        found = extract_js(rel_path, data, language)
    if not data.strip():
        found.extract.status = FileStatus.EMPTY
    return found


def extract_source(
    rel_path: str,
    data: bytes,
    language: str,
    is_package_dir: Callable[[str], bool],
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> FileExtract:
    return discover(rel_path, data, language, is_package_dir, max_bytes).to_extract()
