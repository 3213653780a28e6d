"""Keyword, semantic and hybrid search over a real pgvector catalog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest

from kgents_assets.catalog import search, storage
from kgents_assets.catalog.connections import run_search
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.errors import (
    CatalogError,
    EmbedderMismatch,
    StopWordQuery,
    UnknownEntityType,
)
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.catalog.search import discover, similar_to
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import DatabaseUnavailable, Store
from tests.catalog.conftest import CORPUS, REPO, put_nodes


@pytest.fixture
def catalog(store: Store, embedder: HashingEmbedder) -> Store:
    put_nodes(store, CORPUS)
    sync_catalog(store, embedder, repo=REPO)
    return store


def names(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.entry.name.rsplit(".", 1)[-1] for h in hits]


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_each_mode_finds_the_function_a_question_describes(
    catalog: Store, embedder: HashingEmbedder, mode: str
) -> None:
    hits = discover(catalog, "load yaml configuration settings", mode=mode, embedder=embedder)  # type: ignore[arg-type]
    assert names(hits)[0] == "parse_config"
    assert hits[0].score > 0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_identifier_parts_match_in_both_directions(
    catalog: Store, embedder: HashingEmbedder
) -> None:
    # camelCase query against a snake_case method name
    assert names(discover(catalog, "fetchJson", mode="keyword"))[0] == "fetch_json"
    assert names(discover(catalog, "fetchJson", mode="semantic", embedder=embedder))[0] == (
        "fetch_json"
    )


def test_hybrid_reports_both_ranks(catalog: Store, embedder: HashingEmbedder) -> None:
    top = discover(catalog, "password hash scrypt", embedder=embedder)[0]
    assert top.entry.name.endswith("hash_password")
    assert top.keyword_rank == 1 and top.semantic_rank == 1
    assert top.similarity is not None and 0 < top.similarity <= 1
    assert top.score == pytest.approx(2 / 61)


def test_filters_by_type_and_status(catalog: Store, embedder: HashingEmbedder) -> None:
    for mode in ("keyword", "semantic", "hybrid"):
        hits = discover(catalog, "hash password", mode=mode, entity_type="test", embedder=embedder)  # type: ignore[arg-type]
        assert names(hits) == ["test_hash_password"]
        assert (
            discover(catalog, "hash password", mode=mode, status="retired", embedder=embedder) == []
        )  # type: ignore[arg-type]


def test_semantic_search_uses_the_hnsw_index(catalog: Store, embedder: HashingEmbedder) -> None:
    vector = embedder.embed(["html template"])[0]
    with catalog.transaction() as conn:
        storage.prepare(conn)
        conn.execute("SET LOCAL enable_seqscan = off")  # 5 rows: force the planner's hand
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT entry_id FROM catalog_embeddings v WHERE v.dim = 256 "
                "ORDER BY v.embedding::vector(256) <=> %s::vector(256) LIMIT 5",
                (vector,),
            ).fetchall()
        )
    assert "catalog_embeddings_hnsw_256" in plan


def test_stop_word_query_is_a_clear_error(catalog: Store, embedder: HashingEmbedder) -> None:
    for query in ("the of and", "   ", "?!", "is it a"):
        with pytest.raises(StopWordQuery, match="only stop words"):
            discover(catalog, query, embedder=embedder)


def test_bad_arguments_are_clear_errors(catalog: Store, embedder: HashingEmbedder) -> None:
    with pytest.raises(UnknownEntityType, match="unknown entity type 'widget'"):
        discover(catalog, "page", entity_type="widget", embedder=embedder)
    with pytest.raises(CatalogError, match="unknown search mode"):
        discover(catalog, "page", mode="fuzzy", embedder=embedder)  # type: ignore[arg-type]
    with pytest.raises(CatalogError, match="limit"):
        discover(catalog, "page", limit=0, embedder=embedder)


def test_other_embedder_is_refused_not_mixed(catalog: Store) -> None:
    with pytest.raises(EmbedderMismatch, match=r"hashing-v1:256.*hashing-v1:512"):
        discover(catalog, "render html", mode="semantic", embedder=HashingEmbedder(512))
    # keyword search needs no vectors, so it still works
    assert names(discover(catalog, "render html", mode="keyword"))[0] == "render_page"


def test_empty_catalog_returns_nothing(store: Store, embedder: HashingEmbedder) -> None:
    assert discover(store, "anything useful", embedder=embedder) == []


def test_similar_to_excludes_the_entry_itself(catalog: Store, embedder: HashingEmbedder) -> None:
    hits = similar_to(catalog, CORPUS[3].id, limit=2, embedder=embedder)
    assert len(hits) == 2 and CORPUS[3].id not in {h.entry.id for h in hits}
    # the test of hash_password shares its vocabulary
    assert hits[0].entry.id == CORPUS[4].id


def test_a_dropped_warm_connection_is_replaced(
    catalog: Store, embedder: HashingEmbedder, pg_server_url: str
) -> None:
    assert discover(catalog, "render html", embedder=embedder)
    dbname = catalog.url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (dbname,),
        )
    assert names(discover(catalog, "render html", embedder=embedder))[0] == "render_page"


def test_search_with_the_database_down_is_a_clear_error(embedder: HashingEmbedder) -> None:
    down = Store(url="postgresql://kg@127.0.0.1:9/none")
    with pytest.raises(DatabaseUnavailable, match="cannot reach the database"):
        discover(down, "render html", embedder=embedder)


def test_ef_search_reaches_the_session(catalog: Store, embedder: HashingEmbedder) -> None:
    from kgents_assets.catalog.connections import run_search

    for ef in (77, 120):
        discover(catalog, "render html", mode="semantic", embedder=embedder, ef_search=ef)
        shown = run_search(catalog, lambda c: c.execute("SHOW hnsw.ef_search").fetchone())
        assert shown == (str(ef),)


def test_hits_leave_the_body_to_show(catalog: Store, embedder: HashingEmbedder) -> None:
    hit = discover(catalog, "yaml configuration", embedder=embedder)[0]
    assert hit.entry.body == ""
    with catalog.connect() as conn:
        assert "yaml.safe_load" in storage.get_entry(conn, hit.entry.id).body


# ------------------------------------------------------------ filtered searches
# A small repository among a large one: its entries are about HTML templates, the large
# one's about JSON configuration, and the query is about JSON configuration. HNSW's nearest
# candidates are then all the large repository's, which a post-filter on the small one
# empties: the search must still return `limit` of the small repository's entries.
BIG_TOPICS = ("parse json config file", "load json settings", "read config values from json")
SMALL_TOPICS = ("render html template page", "escape html in a template", "html page layout")
QUERY = "parse the json config file"


def _entries(repo: str, topics: tuple[str, ...], count: int) -> list[CatalogEntry]:
    return [
        CatalogEntry(
            id=f"{repo}:{i}", entity_type="function", name=f"{repo}_fn_{i}",
            description=f"{topics[i % len(topics)]} variant {i}", origin="node", repo=repo,
            body=f"def {repo}_fn_{i}():\n    return {i}",
        )
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
def two_repos(store: Store, embedder: HashingEmbedder) -> tuple[Store, dict[str, np.ndarray]]:
    entries = _entries("big", BIG_TOPICS, 600) + _entries("small", SMALL_TOPICS, 40)
    vectors = embedder.embed([storage.embedding_text(e) for e in entries])
    with store.transaction() as conn:
        storage.prepare(conn)
        storage.upsert_entries(conn, entries)
        storage.upsert_embeddings(conn, entries, vectors, embedder)
        storage.write_embedder_meta(conn, embedder)
    with store.connect(autocommit=True) as conn:
        conn.execute("ANALYZE catalog_entries, catalog_embeddings")
    return store, {e.id: v for e, v in zip(entries, vectors, strict=True)}


def _exact(vectors: dict[str, np.ndarray], query: np.ndarray, repo: str, n: int) -> list[str]:
    mine = sorted((float(v @ query), i) for i, v in vectors.items() if i.startswith(f"{repo}:"))
    return [i for _, i in sorted(mine, key=lambda s: (-s[0], s[1]))[:n]]


def test_a_small_repository_gets_limit_hits_searched_exactly(
    two_repos: tuple[Store, dict[str, np.ndarray]], embedder: HashingEmbedder
) -> None:
    catalog, vectors = two_repos
    hits = discover(catalog, QUERY, mode="semantic", limit=10, embedder=embedder, repo="small")
    expected = _exact(vectors, embedder.embed([QUERY])[0], "small", 10)
    assert [h.entry.id for h in hits] == expected
    assert {h.entry.repo for h in hits} == {"small"}


def test_hnsw_candidates_that_miss_the_repository_fall_back_to_exact(
    two_repos: tuple[Store, dict[str, np.ndarray]],
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Count the small repository as "large" and cap the candidate list at 20: HNSW's 20
    # nearest are all the big repository's, so its post-filter keeps none of them.
    monkeypatch.setattr(search, "EXACT_FILTERED_MAX", 5)
    monkeypatch.setattr(search, "MAX_EF_SEARCH", 20)
    monkeypatch.setattr(search, "FILTERED_EF_SEARCH", 20)
    catalog, vectors = two_repos
    with catalog.connect() as conn:
        storage.prepare(conn)
        conn.execute("SET hnsw.ef_search = 20")
        nearest = conn.execute(
            "SELECT entry_id FROM catalog_embeddings WHERE dim = 256 "
            "ORDER BY embedding::vector(256) <=> %s::vector(256) LIMIT 20",
            (embedder.embed([QUERY])[0],),
        ).fetchall()
    assert not [r for r in nearest if r[0].startswith("small:")]  # the case described above

    for mode in ("semantic", "hybrid"):
        hits = discover(catalog, QUERY, mode=mode, limit=10, embedder=embedder, repo="small")  # type: ignore[arg-type]
        assert len(hits) == 10 and {h.entry.repo for h in hits} == {"small"}
    semantic = discover(catalog, QUERY, mode="semantic", embedder=embedder, repo="small")
    assert [h.entry.id for h in semantic] == _exact(
        vectors, embedder.embed([QUERY])[0], "small", 10
    )


def test_a_large_repository_is_searched_through_hnsw_with_a_wider_candidate_list(
    two_repos: tuple[Store, dict[str, np.ndarray]],
    embedder: HashingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search, "EXACT_FILTERED_MAX", 5)
    catalog, vectors = two_repos
    hits = discover(catalog, QUERY, mode="semantic", limit=10, embedder=embedder, repo="big")
    assert [h.entry.id for h in hits] == _exact(vectors, embedder.embed([QUERY])[0], "big", 10)
    shown = run_search(catalog, lambda c: c.execute("SHOW hnsw.ef_search").fetchone())
    # 600 of 640 vectors match: the default candidate list of a filtered search suffices
    assert shown == (str(search.FILTERED_EF_SEARCH),)


def test_filtered_candidate_list_grows_as_the_matching_share_shrinks() -> None:
    assert search.filtered_depth(10, 0.9) == search.FILTERED_EF_SEARCH
    assert search.filtered_depth(10, 0.01) == search.MAX_EF_SEARCH  # pgvector's bound
    assert search.filtered_depth(10, 0.04) == 500  # twice the 250 candidates 10 hits need
    assert search.filtered_depth(1000, 0.9) == 1000  # never fewer than the hits asked for


# ------------------------------------------------------------ round trips
def _sent(store: Store, search_once: Callable[[], object], tmp_path: Path) -> list[str]:
    """The messages the pooled connection sent to the server during ``search_once``, by
    libpq's trace: a Sync ends each extended-protocol round trip, a Query each simple one
    (the pool's liveness check is an empty Query)."""
    trace = tmp_path / "trace.log"
    with trace.open("w") as sink:
        pid = run_search(store, lambda c: (c.pgconn.trace(sink.fileno()), c.info.backend_pid))
        try:
            search_once()
        finally:
            after = run_search(store, lambda c: (c.pgconn.untrace(), c.info.backend_pid))
    assert after[1] == pid[1]  # one warm connection served all three
    sent = []
    for line in trace.read_text().splitlines():
        fields = line.split("\t")
        if "F" in fields[:2]:
            sent.append(fields[fields.index("F") + 2].split(" ", 1)[0])
    return sent


def test_a_warm_semantic_search_is_one_round_trip(
    catalog: Store, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    found: list[list[str]] = []

    def once() -> None:
        found.append(names(discover(catalog, "render html", mode="semantic", embedder=embedder)))

    once()  # the session's ef_search is set and the statement prepared on first use
    sent = _sent(catalog, once, tmp_path)
    assert sent.count("Sync") == 1, sent  # one statement: the neighbours and their entries
    assert "Query" not in sent, sent  # the pool lent it without an empty query to check it
    assert found[1] == found[0] and found[1][0] == "render_page"
