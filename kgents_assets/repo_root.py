"""Which repository the tools model, resolved the same way everywhere (no Dagster here,
so command-line paths that need it stay fast to start)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ENV = "KGENTS_REPO"


def resolve_repo_root(path: str | None = None) -> Path:
    """``path``, else ``$KGENTS_REPO``, else the current directory; must be a directory."""
    raw = path or os.environ.get(REPO_ENV) or "."
    root = Path(raw).expanduser().resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"repository {raw!r} is not a directory ({root})")
    return root
