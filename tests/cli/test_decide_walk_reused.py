"""``kg hub --once`` walks the tree once after an edit: stage 1 compares the walk that
decide's stat scan made (``ChangeCheck.walked``) with the index instead of walking again.
Proved equal: the same edits, refreshed in two stores from the same first build, one from
the reused walk and one from its own, leave the same index, nodes and marks and the same
report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgents_assets.hub.refresh_files import FilesReport, refresh_files
from kgents_assets.hub.unchanged import check_unchanged
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "shop"
FILES: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": "def price(item):\n    return rate(item) * 2\n\n\ndef rate(item):\n    return 1\n",
    "shop/cart.py": "from shop.pricing import price\n\n\ndef total(items):\n    return 0\n",
    "shop/old.py": "def gone():\n    return rate(1)\n",
    "lib/util.py": "def helper():\n    return 1\n",
    "build/generated.py": "def ignored():\n    return 0\n",
    ".gitignore": "build/\n",
    "README.md": "not source: never scanned\n",
}


def _stored(store: Store) -> dict[str, Any]:
    with store.connect() as conn:
        return {
            "files": conn.execute(
                "SELECT path, mtime_ns, size, content_hash FROM hub_files WHERE repo = %s "
                "ORDER BY path",
                (REPO,),
            ).fetchall(),
            "nodes": conn.execute(
                "SELECT node_id, file_path, qualname FROM hub_nodes WHERE repo = %s ORDER BY 1",
                (REPO,),
            ).fetchall(),
            "marks": conn.execute(
                "SELECT node_id, stage FROM hub_dirty WHERE repo = %s ORDER BY 1, 2", (REPO,)
            ).fetchall(),
        }


def _report(report: FilesReport) -> dict[str, Any]:
    return {**dataclasses.asdict(report), "duration_s": None}


def test_a_refresh_from_decides_walk_equals_one_that_walks_itself(
    fresh_store: Callable[[], Store], repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    reused, walking, partial = fresh_store(), fresh_store(), fresh_store()
    for store in (reused, walking, partial):
        add_repository(store, REPO, str(root))
        refresh_files(store, root, repo=REPO, workers=1)
    assert _stored(reused) == _stored(walking)

    # an edit, a new file, a deletion, a touch, a new package marker (which renames the
    # modules beneath it), a file in an ignored directory
    (root / "shop/pricing.py").write_text("def price(item):\n    return 3\n")
    (root / "shop/extra.py").write_text("def rate(item):\n    return 2\n")
    (root / "shop/old.py").unlink()
    os.utime(root / "shop/cart.py", ns=(1, 1))
    (root / "lib/__init__.py").write_text("")
    (root / "build/more.py").write_text("def also_ignored():\n    return 0\n")

    with reused.connect() as conn:
        check = check_unchanged(conn, root, REPO)
    assert (check.changed, check.deleted) == (4, 1)
    assert len(check.walked) == 6  # the walk kept whole: every source file not ignored
    from_walk = refresh_files(reused, root, repo=REPO, workers=1, walked=check.walked)
    own_walk = refresh_files(walking, root, repo=REPO, workers=1)

    assert _report(from_walk) == _report(own_walk)
    assert (from_walk.files_parsed, from_walk.files_deleted, from_walk.files_touched) == (
        own_walk.files_parsed,
        1,
        1,
    )
    assert _stored(reused) == _stored(walking)
    assert any(path == "lib/util.py" for path, *_ in _stored(reused)["files"])

    # and it is the walk handed over that stage 1 compares, not one of its own
    without_extra = tuple(w for w in check.walked if getattr(w, "path", "") != "shop/extra.py")
    refresh_files(partial, root, repo=REPO, workers=1, walked=without_extra)
    assert "shop/extra.py" not in [path for path, *_ in _stored(partial)["files"]]
