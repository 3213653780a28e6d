"""A real third-party corpus for benchmarks: an sdist fetched from PyPI once, then cached,
and the definitions of a tree's Python files."""

from __future__ import annotations

import ast
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"


def fetch_sdist(name: str, version: str) -> Path:
    """Unpacked source of ``name==version`` (downloaded with pip on first use)."""
    target = CACHE / f"{name}-{version}"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = next(CACHE.glob(f"[{name[0].upper()}{name[0]}]{name[1:]}-{version}.tar.gz"), None)
    if archive is None:
        # the venv's python has no pip under uv; the interpreter it was made from has
        base = str(Path(sys.base_prefix) / "bin" / "python3")
        for python in (sys.executable, base, "python3"):
            cmd = [
                python,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{name}=={version}",
                "-d",
                str(CACHE),
            ]
            if subprocess.run(cmd, capture_output=True).returncode == 0:
                break
        else:
            raise SystemExit(f"could not download the {name} {version} sdist with pip")
        archive = next(CACHE.glob(f"*{name[1:]}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    unpacked = next(
        p for p in CACHE.iterdir() if p.is_dir() and p.name.lower() == target.name.lower()
    )
    unpacked.rename(target)
    return target


Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def python_definitions(
    root: Path,
    kinds: tuple[type[Definition], ...] = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef),
) -> Iterator[tuple[Path, list[str], Definition]]:
    """(file, its lines, definition) for each definition of ``kinds`` in the Python files
    under ``root``: files in sorted order, definitions in ``ast.walk`` order; a file that
    does not parse or decode is skipped."""
    for path in sorted(root.rglob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, kinds):
                yield path, lines, node
