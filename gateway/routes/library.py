"""``/api/library/discover``: catalog search, served only when the catalog provides it."""

from __future__ import annotations

import importlib.util
import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)


def include_if_available(app: FastAPI) -> bool:
    """Mount the route when ``kgents_assets.catalog.search`` exists (not yet, see README)."""
    try:
        spec = importlib.util.find_spec("kgents_assets.catalog.search")
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        log.info("catalog search not installed: /api/library/discover is not served")
    return False
