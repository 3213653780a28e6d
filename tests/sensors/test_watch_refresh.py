"""The watch daemon's refresh on a real repository, real PostgreSQL and a real Dagster
instance: markdown first, then the runless record of each asset on the partition, and a
record the instance cannot take kept and written with the next change set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from kgents_assets.assets.partitions import ensure_partition
from kgents_assets.catalog.embedders import get_embedder
from kgents_assets.hub import dirty
from kgents_assets.instance import get_instance
from kgents_assets.instance.server import choose_database
from kgents_assets.repos.registry import add_repository, get_repository
from kgents_assets.store import Store
from kgents_assets.store.database import DATABASE_URL_ENV
from sensors.watch_refresh import WatchRefresh

NAME = "demo"
CODE_ASSETS = ["code_nodes", "node_state", "node_markdown", "api_impact", "catalog_embeddings"]


@pytest.fixture
def instance(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterInstance]:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv(DATABASE_URL_ENV, store.url)
    with get_instance() as inst:
        yield inst


@pytest.fixture
def watch(
    store: Store, instance: DagsterInstance, repo: Callable[[dict[str, str]], Path]
) -> WatchRefresh:
    root = repo({"pkg/__init__.py": "", "pkg/mod.py": "def f(a):\n    return a\n"})
    add_repository(store, NAME, str(root))
    ensure_partition(instance, NAME)
    return WatchRefresh(store, root, NAME, instance, embedder=lambda: get_embedder("hashing"))


def recorded(instance: DagsterInstance, asset: str) -> dict[str, dict[str, Any]]:
    """refresh_id -> metadata of the asset's materializations of the partition."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[NAME]), limit=100
    ).records
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        mat = r.asset_materialization
        assert mat is not None
        meta = {k: v.value for k, v in mat.metadata.items()}
        out[str(meta["refresh_id"])] = meta
    return out


def md(root: Path, name: str) -> Path:
    return root / ".agentfs" / "nodes" / "pkg" / "mod.py" / f"{name}.md"


def test_markdown_first_then_one_materialization_per_asset(
    watch: WatchRefresh, instance: DagsterInstance, store: Store
) -> None:
    first = watch.refresh(None, {"kgents/trigger": "test"})
    assert md(watch.root, "f").is_file()  # on disk before anything is recorded
    assert recorded(instance, "code_nodes") == {}
    assert watch.follow_up(first) == []
    for asset in CODE_ASSETS:
        assert first.refresh_id in recorded(instance, asset), asset
    meta = recorded(instance, "code_nodes")[first.refresh_id]
    assert meta["mode"] == "scan" and meta["nodes_added"] == 3  # module, package, f
    assert meta["tags"] == {"kgents/trigger": "test"}
    assert get_repository(store, NAME).last_run_id == first.refresh_id

    (watch.root / "pkg" / "mod.py").write_text(
        "def f(a, b):\n    return a\n\n\ndef g():\n    pass\n"
    )
    second = watch.refresh(["pkg/mod.py"], {})
    assert "b" in md(watch.root, "f").read_text() and md(watch.root, "g").is_file()
    assert watch.follow_up(second) == []
    code = recorded(instance, "code_nodes")[second.refresh_id]
    assert code["mode"] == "change set" and code["changed_paths"] == ["pkg/mod.py"]
    assert recorded(instance, "catalog_embeddings")[second.refresh_id]["entries_added"] == 1
    assert "+1 node" in second.sentence(NAME, watch.root)


def test_nothing_changed_is_an_observation(watch: WatchRefresh, instance: DagsterInstance) -> None:
    watch.follow_up(watch.refresh(None, {}))
    again = watch.refresh(["pkg/mod.py"], {})
    assert again.unchanged
    assert watch.follow_up(again) == []
    assert again.refresh_id not in recorded(instance, "code_nodes")
    observations = instance.fetch_observations(
        AssetRecordsFilter(asset_key=AssetKey("code_nodes"), asset_partitions=[NAME]), limit=10
    ).records
    assert [
        o.asset_observation.metadata["refresh_id"].value
        for o in observations
        if o.asset_observation is not None
    ] == [again.refresh_id]


def test_a_record_the_instance_refuses_waits_for_the_next_change(
    watch: WatchRefresh, instance: DagsterInstance, store: Store
) -> None:
    watch.follow_up(watch.refresh(None, {}))
    base, _, query = store.url.partition("?")
    dagster_db = base.rsplit("/", 1)[0] + f"/{choose_database(store.url)}"
    dagster_url = dagster_db + (f"?{query}" if query else "")

    def rename(old: str, new: str) -> None:
        with psycopg.connect(dagster_url, autocommit=True) as conn:
            conn.execute(f"ALTER TABLE {old} RENAME TO {new}")

    rename("event_logs", "event_logs_away")  # the instance cannot write events now
    try:
        (watch.root / "pkg" / "mod.py").write_text("def f(a, c):\n    return a\n")
        refused = watch.refresh(["pkg/mod.py"], {})
        assert "c" in md(watch.root, "f").read_text()  # the user's markdown does not wait
        problems = watch.follow_up(refused)
        assert len(problems) == 1 and "retried with the next change" in problems[0]
        assert len(watch.recorder.pending) == len(CODE_ASSETS)
    finally:
        rename("event_logs_away", "event_logs")

    (watch.root / "pkg" / "mod.py").write_text("def f(a, d):\n    return a\n")
    later = watch.refresh(["pkg/mod.py"], {})
    assert watch.follow_up(later) == [] and watch.recorder.pending == []
    for asset in CODE_ASSETS:
        assert {refused.refresh_id, later.refresh_id} <= set(recorded(instance, asset)), asset
    # Written in the order they happened: the refused refresh's events come first.
    events = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("code_nodes"), asset_partitions=[NAME]),
        limit=100,
        ascending=True,
    ).records
    ids = [
        e.asset_materialization.metadata["refresh_id"].value
        for e in events
        if e.asset_materialization is not None
    ]
    assert ids.index(refused.refresh_id) < ids.index(later.refresh_id)


def test_a_waiting_save_leaves_the_later_steps_to_the_next_refresh(
    watch: WatchRefresh, instance: DagsterInstance, store: Store
) -> None:
    watch.follow_up(watch.refresh(None, {}))

    def catalog_marks() -> int:
        with store.connect() as conn:
            return dirty.pending_count(conn, NAME, dirty.CATALOG)

    (watch.root / "pkg" / "mod.py").write_text("def f(a):\n    return a\n\n\ndef g():\n    pass\n")
    first = watch.refresh(["pkg/mod.py"], {})
    assert md(watch.root, "g").is_file()
    assert watch.follow_up(first, interrupted=lambda: True) == []
    assert first.refresh_id in recorded(instance, "node_markdown")
    assert first.refresh_id not in recorded(instance, "catalog_embeddings")
    assert first.refresh_id not in recorded(instance, "api_impact")
    assert catalog_marks() > 0  # g waits for the catalog, nothing consumed it

    quiet = watch.refresh(["pkg/mod.py"], {})  # the next save changed nothing in the model
    assert quiet.unchanged
    assert watch.follow_up(quiet) == []
    assert catalog_marks() == 0
    assert recorded(instance, "catalog_embeddings")[quiet.refresh_id]["entries_added"] == 1
    assert quiet.refresh_id in recorded(instance, "api_impact")  # deferred, done now
    assert quiet.refresh_id not in recorded(instance, "code_nodes")  # an observation only
