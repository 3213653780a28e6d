"""Keyword, semantic and hybrid search over a real pgvector catalog."""

from __future__ import annotations

import psycopg
import pytest

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.errors import (
    CatalogError,
    EmbedderMismatch,
    StopWordQuery,
    UnknownEntityType,
)
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
