"""Two repositories' catalog syncs at once on one store. The vector index is shared by
every repository: the sync that builds it writes alone (two that both built it
deadlocked, and one repository's run failed), and once it exists the syncs run side by
side, a big load included."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.fixtures import fixture_entries
from kgents_assets.catalog.sync import SyncReport, sync_catalog
from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.store import Store
from tests.catalog.conftest import Node, catalog_marks, make_node, put_nodes

WAIT_S = 60.0
FIXTURES = fixture_entries(BUILTIN_SPECS)


def repository(repo: str, count: int) -> list[Node]:
    return [
        make_node(
            f"{repo}_step_{i}",
            f"Step {i} of the {repo} pipeline.",
            f"def {repo}_step_{i}(x):\n    return {repo}_step_{(i + 1) % count}(x)",
            file_path=f"{repo}/m{i}.py",
            repo=repo,
        )
        for i in range(count)
    ]


class HeldMidWrite:
    """A sync's progress callback: at its first call (its first batch of entries and
    vectors written, its transaction open) the sync stops there until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()

    def __call__(self, done: int, total: int) -> None:
        if not self.reached.is_set():
            self.reached.set()
            if not self.released.wait(WAIT_S):
                raise TimeoutError("the held sync was never released")


class Sync(threading.Thread):
    """One repository's sync in a thread of its own (its own connection), keeping what it
    returned or raised."""

    def __init__(self, store: Store, repo: str, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.store, self.repo, self.kwargs = store, repo, kwargs
        self.report: SyncReport | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.report = sync_catalog(
                self.store, HashingEmbedder(256), repo=self.repo, **self.kwargs
            )
        except BaseException as exc:
            self.error = exc

    def result(self) -> SyncReport:
        self.join(WAIT_S)
        assert not self.is_alive(), f"the sync of {self.repo} did not end"
        assert self.error is None, f"the sync of {self.repo} failed: {self.error}"
        assert self.report is not None
        return self.report


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def lock_waits(store: Store) -> int:
    """How many sessions of the test's database wait for a lock."""
    with store.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def entries_by_repo(store: Store) -> dict[str, int]:
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT e.repo, count(*) FROM catalog_entries e "
            "JOIN catalog_embeddings v ON v.entry_id = e.id GROUP BY e.repo"
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def hnsw_indexes(store: Store) -> list[str]:
    with store.connect() as conn:
        return list(storage.catalog_stats(conn)["hnsw_indexes"])


def test_two_first_syncs_of_a_new_store_both_succeed_with_one_index(store: Store) -> None:
    put_nodes(store, [*repository("north", 12), *repository("south", 12)])
    held = HeldMidWrite()
    south = Sync(store, "south", progress=held, batch_size=4)
    south.start()
    assert held.reached.wait(WAIT_S), "south's sync never wrote its first batch"
    north = Sync(store, "north")
    north.start()
    # north cannot build the index while south's rows are uncommitted: it waits
    wait_for(lambda: lock_waits(store) > 0, "north to wait for south")
    held.released.set()
    reports = {"south": south.result(), "north": north.result()}
    assert {r: (x.added, x.reembedded) for r, x in reports.items()} == {
        "south": (12, 12),
        "north": (12, 12),
    }
    assert entries_by_repo(store) == {"north": 12, "south": 12}
    assert hnsw_indexes(store) == ["catalog_embeddings_hnsw_256"]
    assert catalog_marks(store) == set()


def test_syncs_that_waited_for_the_index_to_be_built_then_write_side_by_side(
    store: Store,
) -> None:
    """Many repositories' first syncs at once (a new store for a team): the first builds
    the index alone, the others wait for it, then none of them waits for another."""
    put_nodes(store, [n for r in ("south", "north", "west") for n in repository(r, 12)])
    held_south, held_north = HeldMidWrite(), HeldMidWrite()
    south = Sync(store, "south", progress=held_south, batch_size=4)
    south.start()
    assert held_south.reached.wait(WAIT_S), "south's sync never wrote its first batch"
    north = Sync(store, "north", progress=held_north, batch_size=4)
    west = Sync(store, "west")
    north.start()
    west.start()
    wait_for(lambda: lock_waits(store) == 2, "north and west to wait for south's index")
    held_south.released.set()
    assert south.result().index_created
    assert held_north.reached.wait(WAIT_S), "north's sync never wrote its first batch"
    # north holds its transaction open: west, which also found the index missing, ends
    assert west.result().added == 12
    assert north.is_alive()
    held_north.released.set()
    assert not north.result().index_created
    assert entries_by_repo(store) == {"north": 12, "south": 12, "west": 12}
    assert hnsw_indexes(store) == ["catalog_embeddings_hnsw_256"]


def test_once_the_index_exists_repositories_sync_side_by_side(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_nodes(store, repository("east", 3))
    sync_catalog(store, HashingEmbedder(256), repo="east", fixture_entries=FIXTURES)
    assert hnsw_indexes(store)
    put_nodes(store, [*repository("north", 12), *repository("south", 12)])
    held = HeldMidWrite()
    south = Sync(store, "south", progress=held, batch_size=4, fixture_entries=FIXTURES)
    south.start()
    assert held.reached.wait(WAIT_S), "south's sync never wrote its first batch"
    # north's load outnumbers the index, which a sync alone would drop and rebuild
    # (storage.drop_vector_index_for_bulk): with south writing it keeps the index instead
    monkeypatch.setattr(storage, "BULK_REBUILD_MIN", 1)
    north = Sync(store, "north", fixture_entries=FIXTURES)
    north.start()
    # north ends while south still holds its transaction open: nothing made it wait
    assert north.result().added == 12
    assert south.is_alive()
    held.released.set()
    assert south.result().added == 12
    assert entries_by_repo(store) == {None: len(FIXTURES), "east": 3, "north": 12, "south": 12}
    assert hnsw_indexes(store) == ["catalog_embeddings_hnsw_256"]


def test_a_sync_that_changes_the_fixture_entries_writes_them_alone(store: Store) -> None:
    """Fixture entries belong to no repository: every repository's sync brings them in
    step with the specs it was given. One that finds them different waits for the other
    writers, and the others for it, so no two write the same rows at once."""
    put_nodes(store, repository("east", 3))
    sync_catalog(store, HashingEmbedder(256), repo="east", fixture_entries=FIXTURES)
    put_nodes(store, [*repository("north", 12), *repository("south", 12)])
    held = HeldMidWrite()
    south = Sync(store, "south", progress=held, batch_size=4, fixture_entries=FIXTURES)
    south.start()
    assert held.reached.wait(WAIT_S), "south's sync never wrote its first batch"
    fewer = FIXTURES[:2]  # a release that drops specs
    north = Sync(store, "north", fixture_entries=fewer)
    north.start()
    wait_for(lambda: lock_waits(store) > 0, "north to wait for south")
    assert north.is_alive()
    held.released.set()
    assert south.result().removed == 0
    assert north.result().removed == len(FIXTURES) - 2
    assert entries_by_repo(store) == {None: 2, "east": 3, "north": 12, "south": 12}


def test_a_load_alone_still_rebuilds_the_index_instead_of_growing_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_nodes(store, repository("east", 3))
    sync_catalog(store, HashingEmbedder(256), repo="east")
    put_nodes(store, repository("north", 12))
    monkeypatch.setattr(storage, "BULK_REBUILD_MIN", 1)
    dropped: list[bool] = []
    drop = storage.drop_vector_index_for_bulk

    def seen_drop(conn: Any, dim: int, incoming: int) -> bool:
        dropped.append(drop(conn, dim, incoming))
        return dropped[-1]

    monkeypatch.setattr(storage, "drop_vector_index_for_bulk", seen_drop)
    assert sync_catalog(store, HashingEmbedder(256), repo="north").added == 12
    assert dropped == [True]
    assert hnsw_indexes(store) == ["catalog_embeddings_hnsw_256"]
