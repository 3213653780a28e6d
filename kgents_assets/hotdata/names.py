"""Fixture names are relative POSIX paths without ``.json`` (``agent_snapshots/demo``).

A name is also a file path under the fixtures directory, so it must never escape it.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from kgents_assets.hotdata.errors import FixtureNameError

# Lower-case letters, digits and ``_``: safe as file names, URL path segments and Dagster
# asset key parts alike, so a name maps to exactly one asset key and back.
_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def validate_fixture_name(name: str) -> str:
    """Return ``name`` if it is a safe relative fixture name, else raise FixtureNameError."""
    if not isinstance(name, str) or not name:
        raise FixtureNameError("a fixture name must be a non-empty string")
    if "\\" in name or "\x00" in name:
        raise FixtureNameError(f"fixture name {name!r} contains a backslash or NUL byte")
    if name.startswith("/") or PurePosixPath(name).is_absolute() or re.match(r"^[A-Za-z]:", name):
        raise FixtureNameError(
            f"fixture name {name!r} is an absolute path; use a name relative to the "
            "fixtures directory such as 'agent_snapshots/demo'"
        )
    parts = name.split("/")
    if any(part in ("..", ".") for part in parts):
        raise FixtureNameError(
            f"fixture name {name!r} contains '..' or '.'; names stay inside the fixtures directory"
        )
    if name.endswith(".json"):
        raise FixtureNameError(f"fixture name {name!r} should not end in '.json'")
    for part in parts:
        if not _SEGMENT.match(part):
            raise FixtureNameError(
                f"fixture name {name!r}: segment {part!r} must be lower-case letters, digits "
                "or '_' (not starting with '_')"
            )
    return name


def fixture_path(root: Path, name: str) -> Path:
    """The JSON file of fixture ``name`` under ``root`` (validated, never outside root)."""
    validate_fixture_name(name)
    return root / f"{name}.json"


def asset_key_parts(name: str) -> list[str]:
    """Dagster asset key path for a fixture: ``["hotdata", kind, ..., leaf]``."""
    return ["hotdata", *validate_fixture_name(name).split("/")]
