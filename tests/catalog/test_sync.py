"""The catalog follows node states: incremental through hub_dirty marks, full on request
or when the embedder changes, atomic when the database goes away mid-run."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg
import pytest

from kgents_assets.catalog import storage, sync
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.embedders.pool import EmbeddingPool
from kgents_assets.catalog.models import EntityType, RelationKind
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import DatabaseUnavailable, Store
from tests.catalog.conftest import CORPUS, REPO, catalog_marks, make_node, put_nodes, remove_nodes


def snapshot(store: Store) -> dict[str, tuple[object, ...]]:
    """Everything the catalog stores per entry, vectors included, for equality checks."""
    with store.connect() as conn:
        storage.prepare(conn)
        rows = conn.execute(
            "SELECT e.id, e.entity_type, e.name, e.description, e.text_hash, e.fingerprint, "
            "v.embedder, v.dim, v.embedding::text, "
            "(SELECT array_agg(kind || '>' || dst ORDER BY kind, dst) FROM "
            " catalog_relationships r WHERE r.src = e.id) "
            "FROM catalog_entries e LEFT JOIN catalog_embeddings v ON v.entry_id = e.id"
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_first_sync_catalogs_every_marked_node(store: Store, embedder: HashingEmbedder) -> None:
    put_nodes(store, CORPUS)
    report = sync_catalog(store, embedder, repo=REPO)
    assert (report.added, report.updated, report.removed) == (5, 0, 0)
    assert report.reembedded == 5 and report.marks_consumed == 5
    assert report.index_created
    assert catalog_marks(store) == set()
    with store.connect() as conn:
        test_entry = storage.get_entry(conn, CORPUS[4].id)
        subject = storage.get_entry(conn, CORPUS[3].id)
        stats = storage.catalog_stats(conn)
    assert test_entry.entity_type is EntityType.TEST
    assert subject.relationships == {RelationKind.TESTED_BY: (CORPUS[4].id,)}
    assert subject.description == "Derive a salted hash of a password with scrypt."
    # a node without docstring still gets a description: what its signature says
    assert "test_hash_password" in test_entry.description
    assert stats["entries"] == stats["embedded_current"] == 5
    assert stats["hnsw_indexes"] == ["catalog_embeddings_hnsw_256"]


def test_unchanged_marks_cost_no_write_and_no_embedding(
    store: Store, embedder: HashingEmbedder
) -> None:
    put_nodes(store, CORPUS)
    sync_catalog(store, embedder, repo=REPO)
    before = snapshot(store)
    put_nodes(store, CORPUS)  # marked again, nothing changed
    report = sync_catalog(store, embedder, repo=REPO)
    assert (report.added, report.updated, report.unchanged, report.reembedded) == (0, 0, 5, 0)
    assert snapshot(store) == before


def test_editing_one_function_reembeds_only_it(store: Store, embedder: HashingEmbedder) -> None:
    put_nodes(store, CORPUS)
    sync_catalog(store, embedder, repo=REPO)
    before = snapshot(store)
    edited = make_node(
        "render_page",
        "Render an HTML page from a Jinja template, escaping user input.",
        "def render_page(template, context):\n    return env.get_template(template).render(**escape(context))",
        file_path="app/web.py",
    )
    put_nodes(store, [edited])
    report = sync_catalog(store, embedder, repo=REPO)
    assert (report.considered, report.updated, report.reembedded) == (1, 1, 1)
    after = snapshot(store)
    assert {k for k in after if after[k] != before[k]} == {edited.id}


def test_moving_a_function_updates_the_entry_without_reembedding(
    store: Store, embedder: HashingEmbedder
) -> None:
    put_nodes(store, CORPUS)
    sync_catalog(store, embedder, repo=REPO)
    moved = CORPUS[0].state.model_copy(update={"start_line": 40, "end_line": 43})
    put_nodes(store, [type(CORPUS[0])(moved, CORPUS[0].source)])
    report = sync_catalog(store, embedder, repo=REPO)
    assert (report.updated, report.reembedded) == (1, 0)


def test_removed_node_leaves_the_catalog(store: Store, embedder: HashingEmbedder) -> None:
    put_nodes(store, CORPUS)
    sync_catalog(store, embedder, repo=REPO)
    remove_nodes(store, [CORPUS[4]])
    report = sync_catalog(store, embedder, repo=REPO)
    assert report.removed == 1
    with store.connect() as conn:
        ids = {r[0] for r in conn.execute("SELECT id FROM catalog_entries").fetchall()}
        # the test's tested_by edge went with it
        edges = conn.execute("SELECT count(*) FROM catalog_relationships").fetchone()
    assert CORPUS[4].id not in ids and len(ids) == 4
    assert edges == (0,)


def test_incremental_result_equals_a_full_reconcile(
    store: Store, embedder: HashingEmbedder
) -> None:
    put_nodes(store, CORPUS[:3])
    sync_catalog(store, embedder, repo=REPO)
    put_nodes(store, CORPUS[3:])
    remove_nodes(store, [CORPUS[1]])
    sync_catalog(store, embedder, repo=REPO)
    incremental = snapshot(store)
    report = sync_catalog(store, embedder, repo=REPO, full=True)
    assert report.mode == "full"
    assert (report.added, report.updated, report.removed, report.reembedded) == (0, 0, 0, 0)
    assert snapshot(store) == incremental


def test_full_reconcile_repairs_lost_marks(store: Store, embedder: HashingEmbedder) -> None:
    put_nodes(store, CORPUS, mark=False)  # e.g. a catalog created after the hub ran
    assert sync_catalog(store, embedder, repo=REPO).added == 0
    report = sync_catalog(store, embedder, repo=REPO, full=True)
    assert report.added == 5 and report.reembedded == 5


def test_embedder_change_reembeds_everything_and_swaps_the_index(store: Store) -> None:
    put_nodes(store, CORPUS)
    sync_catalog(store, HashingEmbedder(256), repo=REPO)
    report = sync_catalog(store, HashingEmbedder(128), repo=REPO)
    assert report.mode == "full" and "embedder changed" in report.reason
    assert report.reembedded == 5 and report.added == 0
    with store.connect() as conn:
        stats = storage.catalog_stats(conn)
    assert stats["vectors"] == [{"embedder": "hashing-v1:128", "dimension": 128, "count": 5}]
    assert stats["hnsw_indexes"] == ["catalog_embeddings_hnsw_128"]
    assert stats["embedder"] == {"id": "hashing-v1:128", "dimension": 128}


def test_invalid_state_is_skipped_and_its_mark_kept(
    store: Store, embedder: HashingEmbedder
) -> None:
    put_nodes(store, CORPUS[:2])
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO kv (repo, key, value) VALUES "
            "('pkg', 'node:pkg:broken:state', '{\"kind\": 1}')"
        )
        conn.execute(
            "INSERT INTO hub_dirty (repo, node_id, stage) VALUES ('pkg', 'pkg:broken', 'catalog')"
        )
    report = sync_catalog(store, embedder, repo=REPO)
    assert report.invalid_states == ["pkg:broken"] and report.added == 2
    assert catalog_marks(store) == {"pkg:broken"}


def test_database_down_mid_run_writes_nothing(
    store: Store, embedder: HashingEmbedder, pg_server_url: str
) -> None:
    put_nodes(store, CORPUS[:2])
    sync_catalog(store, embedder, repo=REPO)
    before = snapshot(store)
    put_nodes(store, CORPUS[2:])
    dbname = store.url.split("?")[0].rsplit("/", 1)[1]

    def kill_connections(done: int, total: int) -> None:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )

    with pytest.raises(DatabaseUnavailable, match="lost the database"):
        sync_catalog(store, embedder, repo=REPO, progress=kill_connections, batch_size=1)
    assert snapshot(store) == before
    assert catalog_marks(store) == {n.id for n in CORPUS[2:]}
    # and the next run finishes the job
    assert sync_catalog(store, embedder, repo=REPO).added == 3


def test_fixture_entries_replace_previous_fixture_entries(
    store: Store, embedder: HashingEmbedder
) -> None:
    from kgents_assets.catalog.fixtures import fixture_entries
    from kgents_assets.hotdata.catalog import BUILTIN_SPECS

    specs = list(BUILTIN_SPECS)
    report = sync_catalog(store, embedder, repo=None, fixture_entries=fixture_entries(specs))
    assert report.added == len(specs)
    report = sync_catalog(store, embedder, repo=None, fixture_entries=fixture_entries(specs[:2]))
    assert report.removed == len(specs) - 2 and report.unchanged == 2
    with store.connect() as conn:
        stats = storage.catalog_stats(conn)
    assert stats["by_type"] == {"spec": 2}


def test_bulk_load_in_a_worker_pool_stores_what_the_batch_path_does(
    store: Store,
    fresh_store: Callable[[], Store],
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cold load takes the bulk path (texts embedded by worker processes while the
    entries are written, vectors streamed into one COPY) from POOL_MIN new entries; the
    result must be the in-process path's, vector bytes included, and an edit afterwards
    must take the incremental path as usual."""
    batch_store = fresh_store()
    for s in (store, batch_store):
        put_nodes(s, CORPUS)
    pools: list[EmbeddingPool] = []

    class SeenPool(EmbeddingPool):  # the real pool, remembered to see it was used
        def submit(self, texts: Sequence[str]) -> None:
            pools.append(self)
            super().submit(texts)

    monkeypatch.setattr(sync, "EmbeddingPool", SeenPool)
    monkeypatch.setattr(sync, "POOL_MIN", 2)
    bulk = sync_catalog(store, embedder, repo=REPO, batch_size=2)
    assert pools, "the bulk path did not embed in the pool"
    monkeypatch.setattr(sync, "POOL_MIN", 10**9)
    sync_catalog(batch_store, embedder, repo=REPO)
    assert (bulk.added, bulk.reembedded, bulk.index_created) == (5, 5, True)
    assert {"read states", "prepare entries", "write entries", "embed + write vectors"} <= set(
        bulk.phases_s
    )
    assert snapshot(store) == snapshot(batch_store)
    edited = make_node(
        "parse_config",
        "Parse a TOML configuration file into a dict.",
        "def parse_config(path):\n    return tomllib.loads(open(path).read())",
        file_path="app/config.py",
    )
    for s in (store, batch_store):
        put_nodes(s, [edited])
    pools.clear()
    monkeypatch.setattr(sync, "POOL_MIN", 2)  # one changed entry: no pool for an edit
    report = sync_catalog(store, embedder, repo=REPO)
    assert (report.updated, report.reembedded) == (1, 1) and not pools
    sync_catalog(batch_store, embedder, repo=REPO)
    assert snapshot(store) == snapshot(batch_store)
