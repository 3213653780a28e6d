"""What counts as a test: the naming conventions of pytest, unittest and the JS runners."""

from __future__ import annotations

from pathlib import PurePosixPath

_TEST_DIRS = frozenset({"tests", "test", "testing", "__tests__", "spec"})


def is_test_file(rel_path: str) -> bool:
    path = PurePosixPath(rel_path)
    name = path.name
    if name.startswith("test_") or name.startswith("tests.") or name == "conftest.py":
        return True
    stem = name.split(".", 1)[0]
    if stem.endswith("_test") or ".test." in name or ".spec." in name:
        return True
    return any(part in _TEST_DIRS for part in path.parent.parts)


def is_test_name(name: str, kind: str) -> bool:
    if kind == "class":
        return name.startswith("Test")
    return name.startswith("test")


def tested_names(test_name: str) -> list[str]:
    """The node names a test's name points at, by convention.

    ``test_save_twice`` points at ``save_twice`` and at ``save`` (every underscore prefix),
    ``TestModel`` at ``Model``.
    """
    if test_name.startswith("test_"):
        pieces = test_name[5:].split("_")
        return ["_".join(pieces[: i + 1]) for i in range(len(pieces)) if pieces[0]]
    if test_name.startswith("Test") and len(test_name) > 4:
        return [test_name[4:]]
    return []
