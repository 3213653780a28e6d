"""Many repositories in one store: each one's model equals its own cold rebuild, nothing
of one is ever touched by another's refresh, and removing one leaves the rest byte for byte.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.repos.registry import (
    UnknownRepository,
    add_repository,
    get_repository,
    remove_repository,
)
from kgents_assets.store import Store
from tests.repo_helpers import Files, snapshot, write_files

SHOP: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": "def price(item):\n    return rate(item) * 2\n\n\ndef rate(item):\n    return 1\n",
    "shop/cart.py": "from shop.pricing import price\n\n\nclass Cart:\n    def total(self):\n        return price(self)\n",
    "tests/test_pricing.py": "from shop.pricing import price\n\n\ndef test_price():\n    assert price(1)\n",
}
EMBEDDER = HashingEmbedder(64)


def _refresh(store: Store, root: Path, name: str, changed: list[str] | None = None) -> None:
    refresh_repository(store, root, repo=name, changed_paths=changed, workers=1)
    sync_catalog(store, EMBEDDER, repo=name)


def _catalog(store: Store, repo: str) -> list[tuple[Any, ...]]:
    with store.connect() as conn:
        return conn.execute(
            "SELECT e.id, e.name, e.description, e.path, e.text_hash, v.text_hash, v.dim "
            "FROM catalog_entries e LEFT JOIN catalog_embeddings v ON v.entry_id = e.id "
            "WHERE e.repo = %s ORDER BY e.id",
            (repo,),
        ).fetchall()


def _raw(store: Store, root: Path, repo: str) -> dict[str, Any]:
    """Every stored row of ``repo`` as it is (timestamps included) and its markdown bytes."""
    out: dict[str, Any] = {}
    with store.connect() as conn:
        for table, order in (
            ("hub_files", "path"),
            ("hub_nodes", "node_id"),
            ("hub_edges", "src_id, dst_id"),
            ("hub_traces", "id"),
            ("kv", "key"),
            ("catalog_entries", "id"),
        ):
            out[table] = conn.execute(
                f"SELECT * FROM {table} WHERE repo = %s ORDER BY {order}", (repo,)
            ).fetchall()
        out["vectors"] = conn.execute(
            "SELECT v.entry_id, v.embedding::text FROM catalog_embeddings v "
            "JOIN catalog_entries e ON e.id = v.entry_id WHERE e.repo = %s ORDER BY 1",
            (repo,),
        ).fetchall()
    out["markdown"] = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / NODES_DIR).rglob("*"))
        if p.is_file()
    }
    return out


def test_two_repositories_interleaved_each_equal_their_cold_rebuild(
    store: Store, fresh_store: Callable[[], Store], tmp_path: Path
) -> None:
    # beta is a fork of alpha: same files, so same hashes; only the repository tells them
    # apart. A mixed-up store would resolve alpha's calls into beta or drop one's rows.
    alpha, beta = tmp_path / "alpha", tmp_path / "beta"
    write_files(alpha, SHOP)
    write_files(beta, SHOP)
    _refresh(store, alpha, "alpha")
    _refresh(store, beta, "beta")
    with store.connect() as conn:
        counts = dict(conn.execute("SELECT repo, count(*) FROM hub_nodes GROUP BY repo"))
        cross = conn.execute(
            "SELECT count(*) FROM hub_edges e JOIN hub_nodes s ON s.node_id = e.src_id "
            "JOIN hub_nodes d ON d.node_id = e.dst_id WHERE s.repo <> d.repo"
        ).fetchone()
    assert counts["alpha"] == counts["beta"] > 0
    assert cross == (0,)

    # beta renames rate -> fee (alpha's callers must not notice); alpha adds a module
    (beta / "shop/pricing.py").write_text(
        "def price(item):\n    return fee(item) * 2\n\n\ndef fee(item):\n    return 3\n"
    )
    _refresh(store, beta, "beta", ["shop/pricing.py"])
    write_files(
        alpha,
        {"shop/tax.py": "from shop.pricing import rate\n\n\ndef tax(x):\n    return rate(x)\n"},
    )
    _refresh(store, alpha, "alpha")  # a full scan: beta's files must not look deleted
    (beta / "shop/cart.py").unlink()
    _refresh(store, beta, "beta")
    _refresh(store, alpha, "alpha")  # nothing changed

    for name, root in (("alpha", alpha), ("beta", beta)):
        cold_root = tmp_path / f"cold-{name}"
        shutil.copytree(root, cold_root, ignore=shutil.ignore_patterns(".agentfs"))
        cold = fresh_store()
        _refresh(cold, cold_root, name)
        assert snapshot(store, root, name) == snapshot(cold, cold_root, name), name
        assert _catalog(store, name) == _catalog(cold, name), name

    before = _raw(store, alpha, "alpha")
    assert before["hub_nodes"] and before["markdown"] and before["catalog_entries"]
    removed = remove_repository(store, "beta")
    assert removed["hub_nodes"] > 0 and removed["catalog_entries"] > 0
    assert _raw(store, alpha, "alpha") == before
    with store.connect() as conn:
        leftovers = conn.execute(
            "SELECT (SELECT count(*) FROM hub_nodes WHERE repo = 'beta') + "
            "(SELECT count(*) FROM kv WHERE repo = 'beta') + "
            "(SELECT count(*) FROM catalog_entries WHERE repo = 'beta')"
        ).fetchone()
    assert leftovers == (0,)
    with pytest.raises(UnknownRepository, match="known repositories: alpha"):
        get_repository(store, "beta")


def test_a_refresh_never_resolves_calls_into_another_repository(
    store: Store, tmp_path: Path
) -> None:
    lib, app = tmp_path / "lib", tmp_path / "app"
    write_files(lib, {"util.py": "def helper():\n    return 1\n"})
    write_files(app, {"main.py": "def main():\n    return helper()\n"})
    _refresh(store, lib, "lib")
    _refresh(store, app, "app")
    with store.connect() as conn:
        edges = conn.execute("SELECT src_id, dst_id FROM hub_edges").fetchall()
    assert edges == []  # `helper` exists only in lib: app's call stays unresolved


def test_names_that_cannot_be_partitions_are_refused(store: Store, tmp_path: Path) -> None:
    for bad in ("a/b", "..", "has space", "x" * 65, "-lead", ""):
        with pytest.raises(ValueError, match="repository name"):
            add_repository(store, bad, str(tmp_path))


def test_removal_during_a_refresh_refuses_or_waits_never_half(store: Store, tmp_path: Path) -> None:
    import threading
    import time

    from kgents_assets.hub import dirty
    from kgents_assets.repos.registry import RepositoryBusy

    root = tmp_path / "busy"
    write_files(root, SHOP)
    _refresh(store, root, "busy")
    removed: dict[str, int] = {}
    with store.transaction() as conn:  # a refresh stage of "busy" in flight
        dirty.stage_lock(conn, "busy")
        with pytest.raises(RepositoryBusy, match="being refreshed"):
            remove_repository(store, "busy")
        waiter = threading.Thread(
            target=lambda: removed.update(remove_repository(store, "busy", wait=True))
        )
        waiter.start()
        # the remover is seen by PostgreSQL as waiting on the repository's lock...
        deadline = time.monotonic() + 60
        # autocommit: pg_stat_activity is a snapshot taken once per transaction
        with store.connect(autocommit=True) as other:
            while not other.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%%pg_advisory_xact_lock%%'"
            ).fetchone()[0]:
                assert time.monotonic() < deadline, "the remover never waited on the lock"
                time.sleep(0.05)
            assert not removed and other.execute(
                "SELECT count(*) FROM hub_nodes WHERE repo = 'busy'"
            ).fetchone() != (0,)
    waiter.join(60)  # ...and removes everything once the stage committed
    assert removed["hub_nodes"] > 0
    # a later stage of that run writes nothing
    with pytest.raises(dirty.RepositoryGone), store.transaction() as conn:
        dirty.stage_lock(conn, "busy")
