"""One vector partition (and HNSW index) per repository: searched together or alone, a
repository's cold load builds its own off to the side without touching or blocking
another's, and removing a repository drops its partition."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from kgents_assets.catalog import partitions, storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import SyncReport, sync_catalog
from kgents_assets.hub.node_ids import make_node_id, qualify_node_id
from kgents_assets.repos.registry import remove_repository
from kgents_assets.store import Store
from tests.catalog.conftest import make_node

#: words no two functions share, so each query has one right answer
TOPICS = [
    "invoice", "glacier", "saxophone", "tornado", "pelican", "volcano", "orchid", "harpoon",
    "lantern", "meteor", "walrus", "cactus", "trombone", "avalanche", "falcon", "tulip",
    "compass", "dolphin", "quarry", "hammock", "igloo", "jaguar", "kettle", "lobster",
]  # fmt: skip
#: a load of at least this many vectors builds a new partition (BULK_REBUILD_MIN, made
#: small so a test repository is a bulk load)
BULK = 10


@pytest.fixture(autouse=True)
def small_bulk_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "BULK_REBUILD_MIN", BULK)


def put_repository(store: Store, repo: str, topics: list[str]) -> list[str]:
    """A repository with one function per topic, written as node_state writes states and
    marked for the catalog; returns the node ids."""
    ids = []
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO repositories (name, source, location) VALUES (%s, 'local', %s) "
            "ON CONFLICT (name) DO NOTHING",
            (repo, f"/src/{repo}"),
        )
        for topic in topics:
            name = f"handle_{topic}"
            node = make_node(
                name, f"Handle the {topic} of a {repo} request.",
                f"def {name}(request):\n    return {topic}(request)", file_path=f"{repo}/m.py",
            )  # fmt: skip
            s = node.state.model_copy(
                update={
                    "node_id": qualify_node_id(repo, make_node_id(f"{repo}/m.py", "function", name))
                }
            )
            conn.execute(
                "INSERT INTO kv (repo, key, value) VALUES (%s, %s, %s)",
                (repo, f"node:{s.node_id}:state", Jsonb(s.model_dump(mode="json"))),
            )
            conn.execute(
                "INSERT INTO hub_nodes (repo, node_id, file_path, kind, name, qualname, "
                "full_name, is_test, source, extract) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, false, %s, '{}')",
                (repo, s.node_id, s.file_path, s.kind, s.name, s.qualname, s.full_name,
                 node.source),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO hub_dirty (repo, node_id, stage) VALUES (%s, %s, 'catalog')",
                (repo, s.node_id),
            )
            ids.append(s.node_id)
    return ids


def top(store: Store, query: str, embedder: HashingEmbedder, **kw: Any) -> list[str | None]:
    hits = discover(store, query, mode="semantic", limit=3, embedder=embedder, **kw)
    return [h.entry.repo for h in hits]


def partition_facts(store: Store, repo: str) -> tuple[str, int, int, int]:
    """(partition table, its HNSW index's oid and relfilenode, the table's relfilenode)."""
    with store.connect() as conn:
        name = partitions.partition_of(conn, repo)
        assert name is not None, f"{repo} has no partition"
        row = conn.execute(
            "SELECT i.indexrelid::int, ic.relfilenode::int, t.relfilenode::int FROM pg_index i "
            "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_am a ON a.oid = ic.relam WHERE i.indrelid = %s::regclass "
            "AND a.amname = 'hnsw'",
            (name,),
        ).fetchone()
    assert row is not None, f"{name} has no HNSW index"
    return name, row[0], row[1], row[2]


def vectors_of(store: Store, repo: str) -> list[tuple[Any, ...]]:
    with store.connect() as conn:
        return conn.execute(
            "SELECT entry_id, embedder, dim, text_hash, embedding::text, embedded_at "
            "FROM catalog_embeddings WHERE repo_key = %s ORDER BY entry_id",
            (repo,),
        ).fetchall()


@pytest.fixture
def two_repositories(store: Store, embedder: HashingEmbedder) -> Store:
    for repo, topics in (("alpha", TOPICS[:12]), ("beta", TOPICS[12:])):
        put_repository(store, repo, topics)
        report = sync_catalog(store, embedder, repo=repo)
        assert report.reembedded == 12
        assert report.partitions_rebuilt == [repo]  # built off to the side
    return store


def test_each_repository_is_searched_alone_or_with_the_others(
    two_repositories: Store, embedder: HashingEmbedder
) -> None:
    store = two_repositories
    assert top(store, "handle the glacier", embedder)[0] == "alpha"
    assert top(store, "handle the dolphin", embedder)[0] == "beta"
    # one repository: only its entries, whatever the query is closest to
    assert set(top(store, "handle the dolphin", embedder, repo="alpha")) == {"alpha"}
    assert set(top(store, "handle the glacier", embedder, repo="beta")) == {"beta"}
    assert top(store, "handle the dolphin", embedder, repo="beta")[0] == "beta"
    with store.connect() as conn:
        keys = [k for k, _ in partitions.partitions(conn)]
        stats = storage.catalog_stats(conn)
    assert keys == ["", "alpha", "beta"]  # entries of no repository have their own
    assert stats["hnsw_indexes"] == ["catalog_embeddings_hnsw_256"]
    assert stats["vector_partitions"] == 3


def test_a_cross_repository_search_is_an_index_scan_of_each_partition(
    two_repositories: Store,
) -> None:
    with two_repositories.connect() as conn:
        # a dozen rows a partition: force the planner's hand (bench/catalog_bench.py shows
        # the same plan unforced at 100k vectors)
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_sort = off")
        q = "[" + ",".join(["0.1"] * 256) + "]"
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT entry_id FROM catalog_embeddings v WHERE v.dim = 256 "
                "ORDER BY v.embedding::vector(256) <=> %s::vector(256) LIMIT 10",
                (q,),
            )
        )
        one = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT entry_id FROM catalog_embeddings v WHERE v.dim = 256 "
                "AND v.repo_key = 'beta' "
                "ORDER BY v.embedding::vector(256) <=> %s::vector(256) LIMIT 10",
                (q,),
            )
        )
    for repo in ("alpha", "beta"):
        assert f"{partition_facts(two_repositories, repo)[0]}_hnsw_256" in plan
    assert (
        "Merge Append" in plan
        and "Seq Scan" not in plan
        and "Sort" not in plan.replace("Sort Key", "")
    )
    beta = partition_facts(two_repositories, "beta")[0]
    assert f"Index Scan using {beta}_hnsw_256" in one
    assert partition_facts(two_repositories, "alpha")[0] not in one


def _waiting_attach(conn: psycopg.Connection[Any]) -> bool:
    """Whether a session waits to attach a partition (the lock ATTACH PARTITION takes on
    the parent; pg_stat_activity may still show the statement before it)."""
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE relation = 'catalog_embeddings'::regclass "
        "AND mode = 'ShareUpdateExclusiveLock' AND NOT granted"
    ).fetchone()
    return bool(row and row[0])


@pytest.fixture
def hold_attach(store: Store) -> Iterator[Callable[[], Callable[[], None]]]:
    """Call it to hold a lock that makes the next partition swap wait right before its
    commit (after its COPY and index build); call what it returns to let it go."""
    holder = psycopg.connect(store.url)

    def hold() -> Callable[[], None]:
        holder.execute("LOCK TABLE catalog_embeddings IN SHARE UPDATE EXCLUSIVE MODE")
        return holder.rollback

    yield hold
    holder.rollback()
    holder.close()


def test_a_cold_load_neither_rebuilds_nor_blocks_another_repository(
    store: Store, embedder: HashingEmbedder, hold_attach: Callable[[], Callable[[], None]]
) -> None:
    put_repository(store, "beta", TOPICS[12:])
    sync_catalog(store, embedder, repo="beta")
    beta_before, beta_vectors = partition_facts(store, "beta"), vectors_of(store, "beta")
    put_repository(store, "alpha", TOPICS[:12])
    release = hold_attach()
    reports: list[SyncReport] = []
    loading = threading.Thread(
        target=lambda: reports.append(sync_catalog(store, embedder, repo="alpha"))
    )
    loading.start()
    try:
        with psycopg.connect(store.url) as watch:
            deadline = time.monotonic() + 60
            while not _waiting_attach(watch):
                assert loading.is_alive() and time.monotonic() < deadline, (
                    "alpha's load never reached its swap"
                )
                time.sleep(0.05)
        # alpha's vectors are written and indexed, uncommitted; beta answers at once
        with ThreadPoolExecutor(2) as pool:
            alone = pool.submit(top, store, "handle the dolphin", embedder, repo="beta")
            across = pool.submit(top, store, "handle the dolphin", embedder)
            assert alone.result(timeout=30)[0] == "beta"
            assert set(across.result(timeout=30)) == {"beta", None} - {None}
        assert partition_facts(store, "beta") == beta_before
    finally:
        release()
        loading.join(timeout=120)
    assert reports and reports[0].reembedded == 12
    assert top(store, "handle the glacier", embedder)[0] == "alpha"
    assert partition_facts(store, "beta") == beta_before  # same index, same file
    assert vectors_of(store, "beta") == beta_vectors


def test_a_second_bulk_load_replaces_the_partition(
    two_repositories: Store,
) -> None:
    store = two_repositories
    alpha, beta = partition_facts(store, "alpha"), partition_facts(store, "beta")
    bigger = HashingEmbedder(128)
    report = sync_catalog(store, bigger, repo="alpha")  # an embedder change: everything
    assert report.reembedded == 24 and report.mode == "full"
    assert partition_facts(store, "alpha")[0] != alpha[0]
    assert partition_facts(store, "beta")[0] != beta[0]
    with store.connect() as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
            "AND relname LIKE 'catalog_embeddings_%%'"
        ).fetchone()
        stats = storage.catalog_stats(conn)
    assert tables == (3,)  # the replaced partitions are gone
    assert stats["hnsw_indexes"] == ["catalog_embeddings_hnsw_128"]
    assert top(store, "handle the glacier", bigger, repo="alpha")[0] == "alpha"
    assert top(store, "handle the dolphin", bigger)[0] == "beta"


def test_removing_a_repository_drops_its_partition_and_keeps_the_others(
    two_repositories: Store, embedder: HashingEmbedder
) -> None:
    store = two_repositories
    beta, beta_vectors = partition_facts(store, "beta"), vectors_of(store, "beta")
    alpha = partition_facts(store, "alpha")[0]
    counts = remove_repository(store, "alpha")
    assert counts["catalog_entries"] == 12
    with store.connect() as conn:
        assert partitions.partition_of(conn, "alpha") is None
        assert conn.execute("SELECT to_regclass(%s)", (alpha,)).fetchone() == (None,)
    assert vectors_of(store, "alpha") == []
    assert vectors_of(store, "beta") == beta_vectors
    assert partition_facts(store, "beta") == beta
    assert set(top(store, "handle the glacier", embedder)) == {"beta"}


def test_an_incremental_sync_writes_into_the_live_partition(
    two_repositories: Store, embedder: HashingEmbedder
) -> None:
    store = two_repositories
    alpha = partition_facts(store, "alpha")
    put_repository(store, "alpha", ["zeppelin"])
    report = sync_catalog(store, embedder, repo="alpha")
    assert report.added == 1 and report.reembedded == 1
    assert report.partitions_rebuilt == []
    assert partition_facts(store, "alpha") == alpha  # same table, same index
    assert top(store, "handle the zeppelin", embedder, repo="alpha")[0] == "alpha"


def test_two_new_repositories_load_at_once(store: Store, embedder: HashingEmbedder) -> None:
    # each holds catalog_entries' row locks while the other attaches its partition: an
    # attach that waited for them (a foreign key) deadlocked here
    put_repository(store, "alpha", TOPICS[:12])
    put_repository(store, "beta", TOPICS[12:])
    with ThreadPoolExecutor(2) as pool:
        loads = [pool.submit(sync_catalog, store, embedder, repo=r) for r in ("alpha", "beta")]
        reports = [f.result(timeout=240) for f in loads]
    assert [r.reembedded for r in reports] == [12, 12]
    assert top(store, "handle the glacier", embedder)[0] == "alpha"
    assert top(store, "handle the dolphin", embedder)[0] == "beta"


def test_deleting_entries_deletes_their_vectors_in_their_partition(
    two_repositories: Store,
) -> None:
    store = two_repositories
    beta = vectors_of(store, "beta")
    gone = vectors_of(store, "alpha")[0][0]
    with store.transaction() as conn:
        assert storage.delete_entries(conn, [gone]) == 1
    assert gone not in [v[0] for v in vectors_of(store, "alpha")]
    assert len(vectors_of(store, "alpha")) == 11
    assert vectors_of(store, "beta") == beta
