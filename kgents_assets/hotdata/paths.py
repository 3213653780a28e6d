"""Where fixtures live by default."""

from __future__ import annotations

import os
from pathlib import Path

FIXTURES_ENV = "KGENTS_FIXTURES_DIR"

# kgents_assets/hotdata/paths.py -> the project root holds fixtures/ (committed data).
PROJECT_FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"


def default_fixtures_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, else ``$KGENTS_FIXTURES_DIR``, else the project's ``fixtures/``."""
    raw = path or os.environ.get(FIXTURES_ENV)
    return Path(raw).expanduser().resolve() if raw else PROJECT_FIXTURES_DIR
