"""The project environment's own console scripts (``kg``, ``dagster``), never another
install that happens to be first on PATH."""

from __future__ import annotations

import sys
from pathlib import Path


def project_executable(name: str) -> str:
    """``name`` from the environment running the tests (beside ``sys.executable``)."""
    path = Path(sys.executable).parent / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the project environment has no `{name}` script "
            "(is the project installed in it?)"
        )
    return str(path)
