"""``check_unchanged``: the stat scan and the marks say whether a refresh has work, and agree
with what a real refresh then finds."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from kgents_assets.hub import dirty
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.unchanged import check_unchanged
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "shop"
FILES: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": "def price(item):\n    return rate(item) * 2\n\n\ndef rate(item):\n    return 1\n",
    "shop/cart.py": "from shop.pricing import price\n\n\ndef total(items):\n    return 0\n",
    "README.md": "not source: never scanned\n",
}


def _modelled(store: Store, root: Path) -> None:
    """Every stage done, the catalog's marks consumed as its run would."""
    refresh_repository(store, root, repo=REPO, workers=1)
    with store.transaction() as conn:
        dirty.clear_marks(conn, REPO, dirty.CATALOG, list(dirty.dirty_marks(conn, REPO, "catalog")))


def test_a_modelled_checkout_has_nothing_to_do(store: Store, repo: Callable[[Files], Path]) -> None:
    root = repo(FILES)
    _modelled(store, root)
    with store.connect() as conn:
        check = check_unchanged(conn, root, REPO)
    assert check.nothing_changed and check.reason() == ""
    assert check.files_checked == 3  # the Python files, not the README
    # and a real refresh agrees: it reads nothing
    report = refresh_files(store, root, repo=REPO, workers=1)
    assert (report.files_parsed, report.files_touched, report.files_deleted) == (0, 0, 0)


def test_an_edit_a_new_file_a_deletion_and_a_touch_each_count(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    _modelled(store, root)
    (root / "shop/pricing.py").write_text("def price(item):\n    return 3\n")
    (root / "shop/new.py").write_text("x = 1\n")
    (root / "shop/cart.py").unlink()
    info = (root / "shop/__init__.py").stat()
    os.utime(root / "shop/__init__.py", ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    with store.connect() as conn:
        check = check_unchanged(conn, root, REPO)
    assert not check.nothing_changed
    # a touch (same content) looks changed to a stat: the real refresh hashes it and decides
    assert (check.changed, check.deleted, check.pending_marks) == (3, 1, 0)
    assert "shop/cart.py" in check.reason() and "3 file(s) new or modified" in check.reason()


def test_a_pending_mark_is_work_left_and_another_repository_is_not_seen(
    store: Store, repo: Callable[[Files], Path], tmp_path: Path
) -> None:
    root = repo(FILES)
    _modelled(store, root)
    other = tmp_path / "other"
    other.mkdir()
    (other / "lib.py").write_text("def f():\n    return 1\n")
    refresh_repository(store, other, repo="other", workers=1)  # leaves its catalog marks
    with store.connect() as conn:
        assert check_unchanged(conn, root, REPO).nothing_changed
        node_id = conn.execute(
            "SELECT node_id FROM hub_nodes WHERE repo = %s LIMIT 1", (REPO,)
        ).fetchone()[0]
    with store.transaction() as conn:
        dirty.mark_dirty(conn, REPO, dirty.MARKDOWN, [node_id], "test")
    with store.connect() as conn:
        check = check_unchanged(conn, root, REPO)
    assert not check.nothing_changed and check.pending_marks == 1
    assert "1 node(s) marked" in check.reason()


def test_a_deleted_markdown_directory_is_work_and_the_refresh_writes_it_back(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    _modelled(store, root)
    nodes = root / ".agentfs/nodes"
    before = {p.relative_to(nodes): p.read_bytes() for p in nodes.rglob("*.md")}
    assert len(before) >= 4  # the modules and their functions
    shutil.rmtree(root / ".agentfs")
    with store.connect() as conn:
        check = check_unchanged(conn, root, REPO)
    # no source file moved, yet the user's markdown is gone: that is work, said plainly
    assert (check.changed, check.deleted, check.pending_marks) == (0, 0, 0)
    assert not check.nothing_changed
    assert check.reason() == "the markdown directory .agentfs/nodes is missing"
    report = refresh_repository(store, root, repo=REPO, workers=1)
    assert report.files.markdown_missing and report.files.files_parsed == 0
    assert report.markdown.written == len(before)
    assert {p.relative_to(nodes): p.read_bytes() for p in nodes.rglob("*.md")} == before
    with store.connect() as conn:
        assert check_unchanged(conn, root, REPO).nothing_changed


def test_a_repository_without_nodes_needs_no_markdown_directory(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo({"README.md": "no source here\n"})
    _modelled(store, root)
    assert not (root / ".agentfs/nodes").exists()
    with store.connect() as conn:
        assert check_unchanged(conn, root, REPO).nothing_changed
