"""Finding entries: keyword (Postgres full text), semantic (pgvector HNSW) and hybrid
(reciprocal rank fusion of the two). This is the API the gateway serves."""

from __future__ import annotations

import os
import re
from typing import Any, get_args

import psycopg
from psycopg import sql

from kgents_assets.catalog import metrics, storage
from kgents_assets.catalog.connections import run_search, set_ef_search
from kgents_assets.catalog.embedders.base import Embedder
from kgents_assets.catalog.embedders.registry import DEFAULT_SPEC, EMBEDDER_ENV, get_embedder
from kgents_assets.catalog.errors import CatalogError, EntryNotFound, StopWordQuery
from kgents_assets.catalog.models import (
    CatalogEntry,
    SearchHit,
    SearchMode,
    parse_entity_type,
    parse_status,
)
from kgents_assets.catalog.text import query_terms
from kgents_assets.store import Store

#: HNSW candidate list size. Measured on this machine (DESIGN.md §8): recall@10 0.94 at
#: 40 (pgvector's default), 0.98 at 100; bench/catalog_bench.py re-measures it.
EF_SEARCH = 100
#: With a type/status filter, HNSW filters *after* its candidate list (pgvector 0.6 has no
#: iterative scan) and could return fewer than ``limit`` rows: below this many matching
#: entries we search them exactly instead, above it we widen the candidate list.
EXACT_FILTERED_MAX = 20_000
FILTERED_EF_SEARCH = 400
RRF_K = 60  # the constant of Cormack et al.; damps the weight of the very first ranks
HYBRID_DEPTH = 50  # candidates taken from each list before fusing
MAX_LIMIT = 1_000
_TERM = re.compile(r"^[a-z0-9_]+$")
Fused = tuple[str, float, dict[str, Any]]  # (entry id, score, rank facts)


def default_embedder() -> Embedder:
    return get_embedder(os.environ.get(EMBEDDER_ENV) or DEFAULT_SPEC)


def _check(query: str, mode: str, limit: int) -> list[str]:
    if mode not in get_args(SearchMode):
        raise CatalogError(f"unknown search mode {mode!r}: use keyword, semantic or hybrid")
    if not 1 <= limit <= MAX_LIMIT:
        raise CatalogError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    terms = [t for t in query_terms(query) if _TERM.match(t)]
    if not terms:
        raise StopWordQuery(
            f"the query {query!r} has nothing to search for: it holds only stop words or "
            "punctuation. Add a word that names what you are looking for."
        )
    return terms


def _filter_sql(
    entity_type: str | None, status: str | None, repo: str | None = None
) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    if repo is not None:
        clauses.append(sql.SQL("e.repo = %s"))
        params.append(repo)
    if entity_type is not None:
        clauses.append(sql.SQL("e.entity_type = %s"))
        params.append(entity_type)
    if status is not None:
        clauses.append(sql.SQL("e.status = %s"))
        params.append(status)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" AND ") + sql.SQL(" AND ").join(clauses), params


def keyword_ranking(
    conn: psycopg.Connection[Any],
    terms: list[str],
    limit: int,
    entity_type: str | None = None,
    status: str | None = None,
    repo: str | None = None,
) -> list[tuple[str, float]]:
    """(id, ts_rank) best first; any term may match (OR), rank rewards matching many."""
    tsquery = " | ".join(terms)
    empty = conn.execute("SELECT numnode(to_tsquery('english', %s)) = 0", (tsquery,)).fetchone()
    if empty and empty[0]:
        raise StopWordQuery(
            f"the query terms {terms} are all stop words for full-text search; add a word "
            "that names what you are looking for"
        )
    where, params = _filter_sql(entity_type, status, repo)
    rows = conn.execute(
        sql.SQL(
            "SELECT e.id, ts_rank(e.tsv, q, 1) AS score "
            "FROM catalog_entries e, to_tsquery('english', %s) AS q "
            "WHERE e.tsv @@ q{} ORDER BY score DESC, e.id LIMIT %s"
        ).format(where),
        [tsquery, *params, limit],
    ).fetchall()
    return [(r[0], float(r[1])) for r in rows]


def semantic_ranking(
    conn: psycopg.Connection[Any],
    vector: Any,
    dim: int,
    limit: int,
    entity_type: str | None = None,
    status: str | None = None,
    ef_search: int = EF_SEARCH,
    embedder_id: str | None = None,
    repo: str | None = None,
) -> list[tuple[str, float]]:
    """(id, cosine similarity) best first. Sets ``hnsw.ef_search`` on the session.

    ``embedder_id`` keeps vectors of any other embedder out of the result (an empty result
    then tells the caller to check which embedder the catalog holds).
    """
    where, params = _filter_sql(entity_type, status, repo)
    own: sql.Composable = sql.SQL(" AND v.embedder = %s") if embedder_id else sql.SQL("")
    own_params = [embedder_id] if embedder_id else []
    distance = sql.SQL("v.embedding::vector({d}) <=> %s::vector({d})").format(d=sql.Literal(dim))
    if not params:
        set_ef_search(conn, max(ef_search, limit))
        query = sql.SQL(
            "SELECT v.entry_id, {dist} AS distance FROM catalog_embeddings v "
            "WHERE v.dim = {d}{own} ORDER BY {dist} LIMIT %s"
        ).format(dist=distance, d=sql.Literal(dim), own=own)
        rows = conn.execute(query, [vector, *own_params, vector, limit]).fetchall()
        return [(r[0], 1.0 - float(r[1])) for r in rows]
    count_row = conn.execute(
        sql.SQL("SELECT count(*) FROM catalog_entries e WHERE true{}").format(where), params
    ).fetchone()
    matching = count_row[0] if count_row else 0
    if matching <= EXACT_FILTERED_MAX:
        # exact: order by the plain operator, which the expression index does not serve
        query = sql.SQL(
            "SELECT v.entry_id, v.embedding <=> %s AS distance FROM catalog_embeddings v "
            "JOIN catalog_entries e ON e.id = v.entry_id WHERE v.dim = {d}{own}{w} "
            "ORDER BY distance, v.entry_id LIMIT %s"
        ).format(d=sql.Literal(dim), own=own, w=where)
        rows = conn.execute(query, [vector, *own_params, *params, limit]).fetchall()
        return [(r[0], 1.0 - float(r[1])) for r in rows]
    depth = max(FILTERED_EF_SEARCH, limit)
    set_ef_search(conn, depth)
    query = sql.SQL(
        "SELECT c.entry_id, c.distance FROM (SELECT v.entry_id, {dist} AS distance "
        "FROM catalog_embeddings v WHERE v.dim = {d}{own} ORDER BY {dist} LIMIT %s) c "
        "JOIN catalog_entries e ON e.id = c.entry_id WHERE true{w} "
        "ORDER BY c.distance LIMIT %s"
    ).format(dist=distance, d=sql.Literal(dim), own=own, w=where)
    rows = conn.execute(query, [vector, *own_params, vector, depth, *params, limit]).fetchall()
    return [(r[0], 1.0 - float(r[1])) for r in rows]


def _fuse(
    keyword: list[tuple[str, float]], semantic: list[tuple[str, float]], limit: int
) -> list[tuple[str, float, dict[str, Any]]]:
    scores: dict[str, float] = {}
    facts: dict[str, dict[str, Any]] = {}
    for rank, (entry_id, score) in enumerate(keyword, start=1):
        scores[entry_id] = scores.get(entry_id, 0.0) + 1.0 / (RRF_K + rank)
        facts.setdefault(entry_id, {}).update(keyword_rank=rank, keyword_score=score)
    for rank, (entry_id, similarity) in enumerate(semantic, start=1):
        scores[entry_id] = scores.get(entry_id, 0.0) + 1.0 / (RRF_K + rank)
        facts.setdefault(entry_id, {}).update(semantic_rank=rank, similarity=similarity)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [(entry_id, score, facts[entry_id]) for entry_id, score in ranked]


@metrics.timed_search()
def discover(
    store: Store,
    query: str,
    mode: SearchMode = "hybrid",
    limit: int = 10,
    entity_type: str | None = None,
    status: str | None = None,
    embedder: Embedder | None = None,
    ef_search: int = EF_SEARCH,
    repo: str | None = None,
) -> list[SearchHit]:
    """Search the catalog: every repository's entries (and fixture and registered ones), or
    only ``repo``'s. ``embedder`` defaults to ``$KGENTS_EMBEDDER`` (else hashing) and must
    be the one the catalog was embedded with (``EmbedderMismatch`` otherwise)."""
    terms = _check(query, mode, limit)
    etype = parse_entity_type(entity_type).value if entity_type else None
    stat = parse_status(status).value if status else None
    need_vectors = mode in ("semantic", "hybrid")
    model = (embedder or default_embedder()) if need_vectors else None
    depth = limit if mode != "hybrid" else max(HYBRID_DEPTH, limit)

    def search(conn: psycopg.Connection[Any]) -> tuple[list[Fused], dict[str, CatalogEntry]]:
        keyword: list[tuple[str, float]] = []
        semantic: list[tuple[str, float]] = []
        if mode in ("keyword", "hybrid"):
            keyword = keyword_ranking(conn, terms, depth, etype, stat, repo)
        if model is not None:
            vector = model.embed([query])[0]
            semantic = semantic_ranking(
                conn, vector, model.dimension, depth, etype, stat, ef_search, model.id, repo
            )
            if not semantic:  # empty catalog, filters matched nothing, or another embedder
                storage.require_same_embedder(conn, model)
        fused: list[Fused]
        if mode == "keyword":
            fused = [
                (i, s, {"keyword_rank": r, "keyword_score": s})
                for r, (i, s) in enumerate(keyword, 1)
            ]
        elif mode == "semantic":
            fused = [
                (i, s, {"semantic_rank": r, "similarity": s})
                for r, (i, s) in enumerate(semantic, 1)
            ]
        else:
            fused = _fuse(keyword, semantic, limit)
        return fused, storage.get_entries(conn, [f[0] for f in fused], with_body=False)

    fused, entries = run_search(store, search)
    return [
        SearchHit(entry=entries[entry_id], score=score, **facts)
        for entry_id, score, facts in fused
        if entry_id in entries
    ]


@metrics.timed_search("similar")
def similar_to(
    store: Store, entry_id: str, limit: int = 5, embedder: Embedder | None = None
) -> list[SearchHit]:
    """Entries nearest to an existing entry's vector (the ``search_similar`` tool)."""
    model = embedder or default_embedder()

    def search(
        conn: psycopg.Connection[Any],
    ) -> tuple[list[tuple[str, float]], dict[str, CatalogEntry]]:
        storage.require_same_embedder(conn, model)
        stored = storage.entry_vector(conn, entry_id)
        if stored is None:
            raise EntryNotFound(f"catalog entry {entry_id!r} has no vector yet")
        ranked = semantic_ranking(conn, stored[1], model.dimension, limit + 1)
        ranked = [r for r in ranked if r[0] != entry_id][:limit]
        return ranked, storage.get_entries(conn, [r[0] for r in ranked], with_body=False)

    ranked, entries = run_search(store, search)
    return [
        SearchHit(entry=entries[i], score=s, semantic_rank=rank, similarity=s)
        for rank, (i, s) in enumerate(ranked, start=1)
        if i in entries
    ]
