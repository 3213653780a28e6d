"""The installed kgents version, stamped on stored records whose meaning depends on this
code (an upgrade may read the same files differently, so such a record is not reused)."""

from __future__ import annotations

from functools import cache
from importlib import metadata

DISTRIBUTION = "kgents-assets"


@cache  # the code a process runs does not change under it; the lookup reads dist-info
def installed_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
