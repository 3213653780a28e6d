"""Marking every node of a repository (hub.dirty.mark_every_node, what a first build's stage 2
does for stages 3 and 4) leaves the marks one ``INSERT ... ON CONFLICT`` upsert leaves:
marks already there renewed (reason, time), the others added, marks of nodes that are gone
and of other repositories untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from kgents_assets.hub import dirty
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.hub.test_refresh import BASE
from tests.repo_helpers import write_files

UPSERT = (
    "INSERT INTO hub_dirty (repo, node_id, stage, reason) "
    "SELECT repo, node_id, %s, %s FROM hub_nodes WHERE repo = %s "
    "ON CONFLICT (node_id, stage) DO UPDATE SET reason = EXCLUDED.reason, marked_at = now()"
)


def _marks(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """Every mark of every repository, with whether it was (re)made by this transaction."""
    return conn.execute(
        "SELECT repo, node_id, stage, reason, marked_at = now() FROM hub_dirty "
        "ORDER BY node_id, stage"
    ).fetchall()


def test_renewing_every_mark_equals_the_upsert(store: Store, tmp_path: Path) -> None:
    for name in ("shop", "other"):
        root = tmp_path / name
        write_files(root, BASE)
        add_repository(store, name, str(root))
        refresh_files(store, root, repo=name, workers=1)
    with store.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT node_id FROM hub_nodes WHERE repo = 'shop' ORDER BY node_id"
            )
        ]
        assert len(ids) > 5
        # marks made by an earlier transaction: two of the nodes', one of a removed node,
        # one of another stage, and the other repository's state marks (stage 1's)
        conn.execute("DELETE FROM hub_dirty WHERE repo = 'shop'")
        for node_id, stage, reason in [
            (ids[0], dirty.MARKDOWN, "markdown missing"),
            (ids[3], dirty.MARKDOWN, dirty.REMOVED_PREFIX + "old.py"),
            ("shop:00000000000000000000", dirty.MARKDOWN, dirty.REMOVED_PREFIX + "gone.py"),
            (ids[1], dirty.CATALOG, "removed"),
        ]:
            conn.execute(
                "INSERT INTO hub_dirty (repo, node_id, stage, reason, marked_at) "
                "VALUES ('shop', %s, %s, %s, now() - interval '1 hour')",
                (node_id, stage, reason),
            )
        conn.commit()

        with conn.transaction(force_rollback=True):
            conn.execute(UPSERT, (dirty.MARKDOWN, "state changed", "shop"))
            expected = _marks(conn)
        with conn.transaction(force_rollback=True):
            dirty.mark_every_node(conn, "shop", dirty.MARKDOWN, "state changed", renew=True)
            got = _marks(conn)

    assert got == expected
    shop_markdown = [m for m in got if m[0] == "shop" and m[2] == dirty.MARKDOWN]
    assert len(shop_markdown) == len(ids) + 1  # every node, and the removed one's kept
    assert (ids[0], "state changed", True) in [(m[1], m[3], m[4]) for m in shop_markdown]
    assert ("shop:00000000000000000000", "removed:gone.py", False) in [
        (m[1], m[3], m[4]) for m in shop_markdown
    ]
    assert any(m[0] == "other" for m in got)  # the other repository's marks are there
    assert [m for m in got if m[0] == "other"] == [m for m in expected if m[0] == "other"]
