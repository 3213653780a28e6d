"""Fixture status: the HotData fixture files and how fresh they are."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gateway.routes import deps
from gateway.settings import GatewaySettings

router = APIRouter(prefix="/api", tags=["fixtures"])


def fixture_files(directory: Path) -> list[dict[str, Any]]:
    """Every ``*.json`` under the fixtures directory, with its kind, age and validity."""
    now = time.time()
    found: list[dict[str, Any]] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.rglob("*.json")):
        stat = path.stat()
        try:
            json.loads(path.read_text(encoding="utf-8"))
            error = None
        except (ValueError, UnicodeDecodeError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        relative = path.relative_to(directory)
        found.append(
            {
                "path": relative.as_posix(),
                "kind": relative.parts[0] if len(relative.parts) > 1 else None,
                "name": path.stem,
                "bytes": stat.st_size,
                "modified": stat.st_mtime,
                "age_s": round(now - stat.st_mtime, 3),
                "valid_json": error is None,
                "error": error,
            }
        )
    return found


def registered_statuses(directory: Path) -> list[dict[str, Any]] | None:
    """FRESH/STALE/MISSING per registered HotData fixture; None without the registry."""
    try:
        from kgents_assets.hotdata.catalog import default_registry
    except ImportError:
        return None
    return [status.to_dict() for status in default_registry(directory).statuses()]


@router.get("/fixtures")
def fixtures(settings: Annotated[GatewaySettings, Depends(deps.settings)]) -> dict[str, Any]:
    """Registered fixtures with their freshness (TTL), and every JSON file on disk."""
    files = fixture_files(settings.fixtures)
    return {
        "directory": str(settings.fixtures),
        "registered": registered_statuses(settings.fixtures),
        "count": len(files),
        "invalid": sum(not f["valid_json"] for f in files),
        "fixtures": files,
    }
