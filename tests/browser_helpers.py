"""Finding the Chromium the browser tests drive (playwright with ``executable_path``).

Never a silent skip where it matters: without a Chromium, CI (``$CI`` set) fails with
how to install one; a developer's machine skips with the same reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser")
DEBIAN_PATH = Path("/usr/bin/chromium")
MISSING = (
    "no chromium found (looked for `chromium` and `chromium-browser` on PATH and "
    f"{DEBIAN_PATH}); install it, e.g. `apt-get install chromium`"
)


def find_chromium() -> str | None:
    """The first Chromium on PATH, else Debian's; None when there is none."""
    for name in CANDIDATES:
        if found := shutil.which(name):
            return found
    return str(DEBIAN_PATH) if os.access(DEBIAN_PATH, os.X_OK) else None


def chromium_executable() -> str:
    """The Chromium to launch; fails in CI and skips elsewhere when there is none.

    Callable from a test, a fixture or a module's top level (then the whole module skips).
    """
    found = find_chromium()
    if found is not None:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{MISSING} (required in CI)", pytrace=False)
    pytest.skip(MISSING, allow_module_level=True)
