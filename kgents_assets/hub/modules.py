"""Dotted module names for repository files, the way the import system sees them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath


def python_module_name(rel_path: str, is_package_dir: Callable[[str], bool]) -> str:
    """``django/db/models/base.py`` -> ``django.db.models.base``.

    The name starts at the topmost directory of the chain of packages (directories with an
    ``__init__.py``) that holds the file, so ``src/pkg/mod.py`` is ``pkg.mod`` and a test
    file in a plain ``tests/`` directory is just ``test_x``.
    """
    path = PurePosixPath(rel_path)
    stem = path.name.split(".", 1)[0]
    parts: list[str] = [] if stem == "__init__" else [stem]
    directory = path.parent
    while str(directory) not in ("", ".") and is_package_dir(str(directory)):
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts) if parts else path.parent.name or stem


def js_module_name(rel_path: str) -> str:
    """``src/app/util.ts`` -> ``src.app.util``; ``index`` files name their directory."""
    path = PurePosixPath(rel_path)
    stem = path.name.split(".", 1)[0]
    parts = [p for p in path.parent.parts if p not in ("", ".")]
    if stem != "index" or not parts:
        parts.append(stem)
    return ".".join(parts)


def resolve_relative(module: str, is_package: bool, level: int, target: str) -> str:
    """Absolute name of ``from {'.' * level}{target} import ...`` inside ``module``."""
    base = module.split(".") if module else []
    # Inside a package's __init__ one dot means the package itself.
    drop = level - 1 if is_package else level
    if drop > len(base):
        return target
    anchor = base[: len(base) - drop] if drop else base
    return ".".join([*anchor, target] if target else anchor)
