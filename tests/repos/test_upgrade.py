"""A database built by the previous release (one repository per database, no repository
column) upgrades in place: its rows become the repository it was built from, nothing is
lost, and the upgraded model equals a cold build under that name.

The old database is built by the old code itself, taken from git history (the last commit
before repositories existed) and run in a subprocess: not by hand-written rows.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.repos.registry import get_repository
from kgents_assets.store import Store
from kgents_assets.store.migrations import LegacyRepository
from tests.repo_helpers import snapshot, write_files

#: the last commit of the single-repository schema
PREVIOUS_RELEASE = "0d19b00"
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
refresh_repository(store, Path(sys.argv[2]), workers=1)
(Path(sys.argv[2]) / "shop/pricing.py").write_text(
    "def price(item):\\n    return rate(item) * 3\\n\\n\\ndef rate(item):\\n    return 1\\n"
)
refresh_repository(store, Path(sys.argv[2]), changed_paths=["shop/pricing.py"], workers=1)
print(sync_catalog(store, HashingEmbedder(64)).added)
"""


def _old_code(tmp_path: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", "--format=tar", PREVIOUS_RELEASE,
         "kgents_assets", "sensors", "resources", "fixtures"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert archive.returncode == 0, (
        f"the previous release {PREVIOUS_RELEASE} must be in this clone's history to build "
        f"an old database: {archive.stderr.decode()}"
    )
    target = tmp_path / "previous"
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


def test_a_database_of_the_previous_release_upgrades_in_place(
    database_url: str, fresh_store: Callable[[], Store], tmp_path: Path
) -> None:
    root = tmp_path / "shop"
    write_files(
        root,
        {
            "shop/__init__.py": "",
            "shop/pricing.py": "def price(item):\n    return rate(item)\n\n\ndef rate(item):\n    return 1\n",
            "tests/test_pricing.py": "from shop.pricing import price\n\n\ndef test_price():\n    price(1)\n",
        },
    )
    old = _old_code(tmp_path)
    built = subprocess.run(
        [sys.executable, "-c", BUILD_OLD, database_url, str(root)],
        capture_output=True, text=True, timeout=300, check=False, cwd=old,
        env={"PYTHONPATH": str(old), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    store = Store(url=database_url)
    with store.connect() as conn:
        old_counts = conn.execute(
            "SELECT (SELECT count(*) FROM hub_nodes), (SELECT count(*) FROM hub_traces), "
            "(SELECT count(*) FROM catalog_entries WHERE origin = 'node'), "
            "(SELECT count(*) FROM catalog_embeddings)"
        ).fetchone()
        assert conn.execute("SELECT to_regclass('repositories')").fetchone() == (None,)
    assert old_counts is not None and all(n > 0 for n in old_counts)

    applied = store.migrate(LegacyRepository("shop", str(root)))
    assert "0005_hub_repository_column" in applied
    assert get_repository(store, "shop").location == str(root)
    with store.connect() as conn:
        new_counts = conn.execute(
            "SELECT (SELECT count(*) FROM hub_nodes WHERE repo = 'shop'), "
            "(SELECT count(*) FROM hub_traces WHERE repo = 'shop'), "
            "(SELECT count(*) FROM catalog_entries WHERE origin = 'node' AND repo = 'shop'), "
            "(SELECT count(*) FROM catalog_embeddings)"
        ).fetchone()
        unprefixed = conn.execute(
            "SELECT count(*) FROM hub_nodes WHERE node_id NOT LIKE 'shop:%'"
        ).fetchone()
    assert new_counts == old_counts  # nothing lost, all of it now the repository's
    assert unprefixed == (0,)

    # Nothing changed on disk: the upgraded model needs no work and equals a cold build.
    again = refresh_repository(store, root, repo="shop", workers=1)
    assert again.files.files_parsed == 0 and again.states.nodes_processed == 0
    catalog = sync_catalog(store, HashingEmbedder(64), repo="shop")
    # the old release's module entries held their whole source: rebuilt once as outlines
    # (the two modules with definitions), nothing added; then nothing left to do
    assert catalog.mode == "full" and "format 1" in catalog.reason
    assert (catalog.added, catalog.reembedded) == (0, 2)
    catalog = sync_catalog(store, HashingEmbedder(64), repo="shop")
    assert (catalog.mode, catalog.added, catalog.reembedded) == ("incremental", 0, 0)
    cold_root = tmp_path / "cold" / "shop"
    write_files(cold_root, {p.relative_to(root).as_posix(): p.read_text()
                            for p in root.rglob("*.py") if ".agentfs" not in p.parts})  # fmt: skip
    cold = fresh_store()
    refresh_repository(cold, cold_root, repo="shop", workers=1)
    upgraded, rebuilt = snapshot(store, root, "shop"), snapshot(cold, cold_root, "shop")
    assert upgraded["nodes"] == rebuilt["nodes"] and upgraded["edges"] == rebuilt["edges"]
    # derived prose (the summary's wording, the callers count added since) is what the
    # code of the day writes: the upgrade keeps the old release's until a node changes
    strip = {"updated_at", "timestamps", "summary", "callers_total"}
    assert {
        k: {f: v for f, v in s.items() if f not in strip} for k, s in upgraded["states"].items()
    } == {k: {f: v for f, v in s.items() if f not in strip} for k, s in rebuilt["states"].items()}
