"""A cold load streams a repository's nodes in batches (catalog/cold_load.py): what it
stores must be what the general path stores for the same states, byte for byte, whatever
the batch size, with or without the worker pool; and a load that fails midway must leave
the previous catalog as it was."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pytest

from kgents_assets.catalog import bulk_write, cold_load, side_tsv, storage, sync
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.errors import RelationshipCycle
from kgents_assets.catalog.fixtures import fixture_entries
from kgents_assets.catalog.models import CatalogEntry, EntityType, RelationKind
from kgents_assets.catalog.sync import SyncReport, sync_catalog
from kgents_assets.hotdata.catalog import BUILTIN_SPECS
from kgents_assets.store import Store
from tests.catalog.conftest import REPO, Node, catalog_marks, make_node, put_nodes


def corpus() -> list[Node]:
    """Functions and the tests that test them: with batches of 3 (in id order, which is
    hash order) edges cross batches both ways."""
    nodes = []
    for n in range(4):
        nodes.append(
            make_node(
                f"test_step_{n}",
                None,
                f"def test_step_{n}():\n    assert step_{n}() == {n}",
                file_path=f"tests/test_steps_{n % 2}.py",
                is_test=True,
            )
        )
    for n in range(8):
        tests = [f"tests.test_steps_{t % 2}.test_step_{t}" for t in (n % 4, (n + 1) % 4)]
        nodes.append(
            make_node(
                f"step_{n}",
                f"Step number {n} of the parseConfig pipeline." if n % 3 else None,
                f"def step_{n}(value):\n    return transformValue(value) + {n}",
                file_path=f"app/z{n % 3}/steps.py",
                related_tests=tests,
            )
        )
    return nodes


def stored(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored byte of the catalog but timestamps: entries (tsv included), edges,
    vectors."""
    with store.connect() as conn:
        return {
            "entries": conn.execute(
                "SELECT id, entity_type, name, version, description, keywords, status, origin, "
                "author, node_id, path, body, deprecation_reason, metadata::text, text_hash, "
                "fingerprint, repo, tsv::text FROM catalog_entries ORDER BY id"
            ).fetchall(),
            "edges": conn.execute(
                "SELECT src, kind, dst FROM catalog_relationships ORDER BY 1, 2, 3"
            ).fetchall(),
            "vectors": conn.execute(
                "SELECT entry_id, embedder, dim, text_hash, embedding::text "
                "FROM catalog_embeddings ORDER BY 1"
            ).fetchall(),
            "indexes": conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'catalog_%%' "
                "ORDER BY 1"
            ).fetchall(),
        }


def counts(report: SyncReport) -> tuple[Any, ...]:
    return (report.added, report.updated, report.removed, report.reembedded,
            report.invalid_states, report.marks_consumed, report.index_created)  # fmt: skip


def prepare_nodes(store: Store) -> None:
    put_nodes(store, corpus())
    with store.transaction() as conn:
        # a state that does not validate, and a marked node whose state is gone
        conn.execute(
            "INSERT INTO kv (repo, key, value) VALUES (%s, 'node:pkg:broken:state', "
            "'{\"kind\": 1}')",
            (REPO,),
        )
        conn.execute(
            "INSERT INTO hub_dirty (repo, node_id, stage) VALUES "
            "(%s, 'pkg:broken', 'catalog'), (%s, 'pkg:gone', 'catalog')",
            (REPO, REPO),
        )


@pytest.mark.parametrize(
    ("mode", "full"),
    [("in-process", False), ("in-process", True), ("pool+side", False), ("side-fails", True)],
)
def test_streamed_cold_load_stores_what_the_general_path_stores(
    fresh_store: Callable[[], Store],
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    full: bool,
) -> None:
    """``pool+side``: texts embedded by worker processes, search vectors computed on side
    connections; ``side-fails``: those connections cannot be opened, the load computes
    the vectors itself."""
    streamed, general = fresh_store(), fresh_store()
    pooled = mode == "pool+side"
    if mode != "in-process":
        monkeypatch.setattr(cold_load, "SIDE_TSV_MIN", 0)
    side_connections: list[object] = []
    real_connect = side_tsv.SideSearchVectors._connection

    def side_connection(self: side_tsv.SideSearchVectors) -> psycopg.Connection[Any]:
        side_connections.append(self)
        if mode == "side-fails":
            raise psycopg.OperationalError("too many clients already")
        return real_connect(self)

    monkeypatch.setattr(side_tsv.SideSearchVectors, "_connection", side_connection)
    fixtures = fixture_entries(list(BUILTIN_SPECS))
    for s in (streamed, general):
        prepare_nodes(s)
    monkeypatch.setattr(sync, "POOL_MIN", 2 if pooled else 10**9)
    seen: list[int] = []
    real_load = cold_load.load_new_nodes

    def counted_load(*args: Any, **kwargs: Any) -> cold_load.ColdLoadResult:
        result = real_load(*args, **kwargs, batch=3)
        seen.append(len(result.written))
        return result

    monkeypatch.setattr(cold_load, "load_new_nodes", counted_load)
    progress: list[tuple[int, int]] = []
    a = sync_catalog(
        streamed, embedder, repo=REPO, full=full, fixture_entries=fixtures,
        progress=lambda done, total: progress.append((done, total)),
    )  # fmt: skip
    assert seen == [12], "the cold load did not take the streamed path"
    assert bool(side_connections) == (mode != "in-process")
    assert (12, 13) in progress  # the invalid state counts as one to load; fixtures follow
    monkeypatch.setattr(sync, "COLD_MIN", 10**9)
    b = sync_catalog(general, embedder, repo=REPO, full=full, fixture_entries=fixtures)
    assert seen == [12]
    assert counts(a) == counts(b)
    assert a.added == 12 + len(fixtures) and a.invalid_states == ["pkg:broken"]
    assert stored(streamed) == stored(general)
    edges = stored(streamed)["edges"]
    assert len(edges) == 16 and all(kind == "tested_by" for _, kind, _ in edges)
    assert catalog_marks(streamed) == catalog_marks(general) == {"pkg:broken"}
    # what comes next is the incremental path, on both alike
    edited = make_node("step_5", "Step five, edited.", "def step_5(value):\n    return 5",
                       file_path="app/z2/steps.py", related_tests=["nothing.here"])  # fmt: skip
    for s in (streamed, general):
        put_nodes(s, [edited])
    assert counts(sync_catalog(streamed, embedder, repo=REPO)) == counts(
        sync_catalog(general, embedder, repo=REPO)
    )
    assert stored(streamed) == stored(general)


def test_a_load_failing_midway_leaves_the_previous_catalog(
    store: Store, embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_catalog(store, embedder, repo=None, fixture_entries=fixture_entries(list(BUILTIN_SPECS)))
    before = stored(store)
    prepare_nodes(store)
    real_write = bulk_write.copy_new_entries
    batches: list[int] = []

    def failing_write(conn: Any, rows: Sequence[tuple[Any, ...]], tsv: Any = None) -> int:
        batches.append(len(rows))
        if len(batches) == 3:
            raise RuntimeError("the disk is full")
        return real_write(conn, rows, tsv)

    monkeypatch.setattr(bulk_write, "copy_new_entries", failing_write)
    monkeypatch.setattr(
        cold_load,
        "load_new_nodes",
        lambda *a, _real=cold_load.load_new_nodes, **k: _real(*a, **k, batch=3),
    )
    with pytest.raises(RuntimeError, match="the disk is full"):
        sync_catalog(store, embedder, repo=REPO)
    assert len(batches) == 3
    assert stored(store) == before
    assert catalog_marks(store) == {n.id for n in corpus()} | {"pkg:broken", "pkg:gone"}
    monkeypatch.setattr(bulk_write, "copy_new_entries", real_write)
    assert sync_catalog(store, embedder, repo=REPO).added == 12


def _entry(entry_id: str) -> CatalogEntry:
    return CatalogEntry(id=entry_id, entity_type=EntityType.FUNCTION, name=entry_id,
                        description=entry_id, origin="node", repo=REPO)  # fmt: skip


def test_staged_edges_are_stored_once_dangling_dropped_and_cycles_refused(store: Store) -> None:
    d = RelationKind.DEPENDS_ON
    with store.transaction() as conn:
        storage.upsert_entries(conn, [_entry("pkg:a"), _entry("pkg:b")])
        storage.replace_relationships(conn, ["pkg:a"], [("pkg:a", d, "pkg:b")])
    with store.transaction() as conn:
        bulk_write.copy_new_entries(
            conn, [storage.entry_row(storage.prepare_entry(_entry("pkg:c")))]
        )
        bulk_write.stage_edges(conn, [("pkg:c", d, "pkg:a"), ("pkg:c", d, "pkg:a")])
        bulk_write.stage_edges(conn, [("pkg:c", d, "pkg:c"), ("pkg:c", d, "pkg:nowhere")])
        assert bulk_write.store_staged_edges(conn) == 1
        assert bulk_write.store_staged_edges(conn) == 0  # nothing staged any more
    with store.connect() as conn:
        assert conn.execute("SELECT src, dst FROM catalog_relationships ORDER BY 1").fetchall() == [
            ("pkg:a", "pkg:b"),
            ("pkg:c", "pkg:a"),
        ]
    with pytest.raises(RelationshipCycle, match="cycle"), store.transaction() as conn:
        bulk_write.copy_new_entries(
            conn, [storage.entry_row(storage.prepare_entry(_entry("pkg:d")))]
        )
        bulk_write.stage_edges(conn, [("pkg:b", d, "pkg:c")])  # b -> c -> a -> b
        bulk_write.store_staged_edges(conn)
    with store.connect() as conn:
        assert conn.execute("SELECT count(*) FROM catalog_entries").fetchone() == (3,)


def test_edges_across_batches_to_earlier_entries_and_to_invalid_states(
    fresh_store: Callable[[], Store], embedder: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edges of a cold load go in with the later of their two batches, or at the end when
    their target is not one of the load's nodes (here: tests synced before); one to a node
    of the load whose state does not validate is dropped. Stored as the general path."""
    old_tests = [
        make_node(f"test_old_{n}", None, f"def test_old_{n}():\n    pass",
                  file_path="tests/test_old.py", is_test=True)
        for n in range(3)
    ]  # fmt: skip
    new_tests = [
        make_node(f"test_new_{n}", None, f"def test_new_{n}():\n    pass",
                  file_path="tests/test_new.py", is_test=True)
        for n in range(3)
    ]  # fmt: skip
    functions = [
        make_node(f"fn_{n}", None, f"def fn_{n}():\n    return {n}",
                  file_path=f"app/m{n % 2}.py",
                  related_tests=[f"tests.test_old.test_old_{n % 3}",
                                 f"tests.test_new.test_new_{(n + 1) % 3}"])
        for n in range(7)
    ]  # fmt: skip
    broken = new_tests[0].id
    streamed, general = fresh_store(), fresh_store()
    for s in (streamed, general):
        put_nodes(s, old_tests)
        sync_catalog(s, embedder, repo=REPO)
        put_nodes(s, [*new_tests, *functions])
        with s.transaction() as conn:
            conn.execute(
                "UPDATE kv SET value = '{\"kind\": 1}' WHERE key = %s", (f"node:{broken}:state",)
            )
    ready: list[int] = []
    real_ready = bulk_write.store_ready_edges

    def counted(conn: Any, edges: Sequence[tuple[str, str, str]]) -> int:
        ready.append(len(edges))
        return real_ready(conn, edges)

    monkeypatch.setattr(bulk_write, "store_ready_edges", counted)
    monkeypatch.setattr(
        cold_load,
        "load_new_nodes",
        lambda *a, _real=cold_load.load_new_nodes, **k: _real(*a, **k, batch=2),
    )
    a = sync_catalog(streamed, embedder, repo=REPO)
    assert len(ready) == 5 and sum(ready) > 0, "the cold load did not store edges per batch"
    monkeypatch.setattr(sync, "COLD_MIN", 10**9)
    b = sync_catalog(general, embedder, repo=REPO)
    assert counts(a) == counts(b) and a.invalid_states == [broken]
    assert stored(streamed) == stored(general)
    edges = stored(streamed)["edges"]
    assert {d for _, _, d in edges} == {t.id for t in [*old_tests, *new_tests[1:]]}
    assert len(edges) == 14 - sum(1 for n in range(7) if (n + 1) % 3 == 0)


def test_edges_stored_batch_by_batch_refuse_a_cycle_closed_by_a_later_batch(
    store: Store,
) -> None:
    d = RelationKind.DEPENDS_ON.value
    with pytest.raises(RelationshipCycle, match="cycle"), store.transaction() as conn:
        bulk_write.copy_new_entries(
            conn, [storage.entry_row(storage.prepare_entry(_entry(i))) for i in ("pkg:a", "pkg:b")]
        )
        assert bulk_write.store_ready_edges(conn, [("pkg:a", d, "pkg:b")]) == 1
        bulk_write.copy_new_entries(
            conn, [storage.entry_row(storage.prepare_entry(_entry("pkg:c")))]
        )
        bulk_write.store_ready_edges(conn, [("pkg:b", d, "pkg:c"), ("pkg:c", d, "pkg:a")])
    with store.connect() as conn:
        assert conn.execute("SELECT count(*) FROM catalog_relationships").fetchone() == (0,)
