"""A store built by the code before vectors were partitioned by repository (one table, one
HNSW index) upgrades in place: migration 0102 keeps every vector as it was, nothing is
re-embedded, and each repository gets its partition and index."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path
from typing import Any

from kgents_assets.catalog import partitions, storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import Store
from tests.repo_helpers import write_files

#: main before migration 0102
PREVIOUS = "4c2b539"
PROJECT = Path(__file__).resolve().parents[2]

BUILD_OLD = """
import sys
from pathlib import Path
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
store = Store(url=sys.argv[1])
store.migrate()
for name in ("shop", "bank"):
    refresh_repository(store, Path(sys.argv[2]) / name, repo=name, workers=1)
    print(sync_catalog(store, HashingEmbedder(64), repo=name).reembedded)
"""

FILES = {
    "shop": {
        "shop/pricing.py": "def price(item):\n    '''Price of an item with tax.'''\n"
        "    return rate(item) * 3\n\n\ndef rate(item):\n    '''The tax rate.'''\n    return 1\n",
    },
    "bank": {
        "bank/ledger.py": "def balance(account):\n    '''Sum the ledger of an account.'''\n"
        "    return sum(account.entries)\n\n\ndef overdraft(account):\n"
        "    '''Whether the account is below zero.'''\n    return balance(account) < 0\n",
    },
}


def vectors(store: Store) -> list[tuple[Any, ...]]:
    with store.connect() as conn:
        return conn.execute(
            "SELECT entry_id, embedder, dim, text_hash, embedding::text, embedded_at "
            "FROM catalog_embeddings ORDER BY entry_id"
        ).fetchall()


def test_vectors_of_one_table_upgrade_into_partitions(database_url: str, tmp_path: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", "--format=tar", PREVIOUS, "kgents_assets"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert archive.returncode == 0, archive.stderr.decode()
    old = tmp_path / "previous"
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(old, filter="data")
    for name, files in FILES.items():
        write_files(tmp_path / "src" / name, files)
    built = subprocess.run(
        [sys.executable, "-c", BUILD_OLD, database_url, str(tmp_path / "src")],
        capture_output=True, text=True, timeout=300, check=False, cwd=old,
        env={"PYTHONPATH": str(old), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    store = Store(url=database_url)
    before = vectors(store)
    assert {v[0].split(":")[0] for v in before} == {"bank", "shop"}
    with store.connect() as conn:
        assert conn.execute(
            "SELECT relkind FROM pg_class WHERE relname = 'catalog_embeddings'"
        ).fetchone() == ("r",)  # one plain table before

    applied = store.migrate()
    assert "0102_catalog_embeddings_by_repository" in applied
    assert vectors(store) == before  # byte for byte, timestamps included
    with store.connect() as conn:
        keys = [k for k, _ in partitions.partitions(conn)]
        stats = storage.catalog_stats(conn)
        indexed = {
            table: conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE tablename = %s AND indexname = %s",
                (table, f"{table}_hnsw_64"),
            ).fetchone()
            for _, table in partitions.partitions(conn)
        }
    assert keys == ["", "bank", "shop"]
    assert stats["hnsw_indexes"] == ["catalog_embeddings_hnsw_64"]
    # the partitions the migration made are indexed the way a later bulk load names them
    assert set(indexed.values()) == {(1,)}

    embedder = HashingEmbedder(64)
    for name in ("shop", "bank"):
        report = sync_catalog(store, embedder, repo=name, full=True)
        assert (report.added, report.updated, report.reembedded) == (0, 0, 0)
    hits = discover(store, "ledger balance of an account", mode="semantic", embedder=embedder,
                    repo="bank")  # fmt: skip
    assert hits and {h.entry.repo for h in hits} == {"bank"}
    assert hits[0].entry.name.endswith("balance")
