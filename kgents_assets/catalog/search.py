"""Finding entries: keyword (Postgres full text), semantic (pgvector HNSW) and hybrid
(reciprocal rank fusion of the two). This is the API the gateway serves."""

from __future__ import annotations

import math
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

#: HNSW candidate list size: recall@10 against exact search at 100k entries must stay at or
#: above 0.95 (bench/catalog_bench.py --only latency, hashing embedder). pgvector builds the
#: graph in a random order, and at 100 recall varied from build to build of the same data:
#: 0.947-0.969 (0.942-0.954 at 80); at 150 it was 0.959 on each build measured, for ~1.3 ms
#: more per search (6.9 -> 8.1 ms p50 through the API). The graph walk is most of a search.
EF_SEARCH = 150
#: With a filter (repository, type, status), HNSW filters *after* its candidate list
#: (pgvector 0.6 has no iterative scan) and could return fewer than ``limit`` rows. Up to
#: this many matching entries are searched exactly (each costs a vector read, ~10 us);
#: more go through HNSW with a wider list, then the widest, then exactly.
EXACT_FILTERED_MAX = 2_000
FILTERED_EF_SEARCH = 400
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search
RRF_K = 60  # the constant of Cormack et al.; damps the weight of the very first ranks
HYBRID_DEPTH = 50  # candidates taken from each list before fusing
MAX_LIMIT = 1_000
#: Which terms of a query select the entries it ranks: those fewer than 500 entries
#: hold; if no entry holds one, fewer than 2,000; then every term. The others still count
#: in the ranking, and a keyword search lists the entries that hold only them after the
#: others when those are too few (keyword_ranking's ``fill``). "return", "value" or
#: "object" are in thousands of entries of a large code catalog: ranking every entry that
#: holds one was most of a docstring query's time,
#: and ts_rank, which does not weigh a term by its rarity, let them outrank the query's
#: telling words. Counts, not shares: in a catalog of a few thousand entries nearly every
#: term selects, as a short candidate list is cheap, and a term that a handful of entries
#: hold is no sign of the right one (shares of 1 % then 5 % took keyword MRR@10 from
#: 0.617 to 0.473 at 380 entries). bench/keyword_candidates_bench.py, 2k to 100k
#: entries: hybrid MRR@10 the same or better at every size (+0.06 at 100k), hybrid p50
#: the same at 2k-5k, 8.9 -> 7.4 ms at 10k, 59 -> 11 ms at 100k. The counts
#: come from PostgreSQL's own statistics of ``tsv`` (``pg_stats``, kept by the sync's
#: ANALYZE; a term they do not list is rare); a catalog never analyzed has none. Empty:
#: every term selects.
SELECTING_ENTRIES: tuple[int, ...] = (500, 2_000)
_TERM = re.compile(r"^[a-z0-9_]+$")
Fused = tuple[str, float, dict[str, Any]]  # (entry id, score, rank facts)
Ranked = tuple[str, float, CatalogEntry | None]  # (entry id, similarity, entry if fetched)
# Entries as search results show them: the body (up to 20k characters of source nobody
# displays in a result list) stays in the database.
_ENTRY_WITHOUT_BODY = storage._SELECT_ENTRY.replace(" body,", " ''::text,", 1)


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
) -> tuple[sql.Composable, dict[str, Any]]:
    """`` AND ...`` over ``catalog_entries e`` and its named parameters."""
    given = {"repo": repo, "entity_type": entity_type, "status": status}
    params = {column: value for column, value in given.items() if value is not None}
    clauses = [
        sql.SQL("e.{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
        for column in params
    ]
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" AND ") + sql.SQL(" AND ").join(clauses), params


# How many entries hold a term: its rarest lexeme's share (a term of several lexemes is a
# phrase of them; 0 for a lexeme the statistics do not list) of the table's rows. The
# last three numbers of most_common_elem_freqs are not per element: unnest pairs them
# with NULL.
_TERM_ENTRIES = (
    "WITH listed AS (SELECT c.elem, c.share FROM pg_stats s, "
    "unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS c(elem, share) "
    "WHERE s.schemaname = current_schema() AND s.tablename = 'catalog_entries' "
    "AND s.attname = 'tsv' AND c.elem IS NOT NULL) "
    "SELECT t.term, min(coalesce(l.share, 0)) * (SELECT greatest(reltuples, 0) FROM pg_class "
    "WHERE oid = 'catalog_entries'::regclass) FROM unnest(%(terms)s::text[]) "
    "WITH ORDINALITY AS t(term, n), "
    "unnest(tsvector_to_array(to_tsvector('english', t.term))) AS x(lexeme) "
    "LEFT JOIN listed l ON l.elem = x.lexeme GROUP BY t.term, t.n ORDER BY t.n"
)


def term_entries(conn: psycopg.Connection[Any], terms: list[str]) -> dict[str, float]:
    """term -> how many of the catalog's entries hold it, as PostgreSQL's statistics
    estimate it, in query order; a term full-text search drops as a stop word is left out."""
    rows = conn.execute(_TERM_ENTRIES, {"terms": terms}, prepare=True).fetchall()
    return {r[0]: float(r[1]) for r in rows}


def selections(conn: psycopg.Connection[Any], terms: list[str]) -> list[str]:
    """The tsqueries that may select a search's candidates, rarest terms first
    (SELECTING_ENTRIES), the last of every term."""
    every = " | ".join(terms)
    held = term_entries(conn, terms) if SELECTING_ENTRIES else {}
    found: list[str] = []
    for cutoff in SELECTING_ENTRIES:
        rare = [term for term, entries in held.items() if entries < cutoff]
        if len(rare) == len(held):  # every term is this rare
            break
        if rare and (selecting := " | ".join(rare)) not in found:
            found.append(selecting)
    return [*found, every]


def keyword_ranking(
    conn: psycopg.Connection[Any],
    terms: list[str],
    limit: int,
    entity_type: str | None = None,
    status: str | None = None,
    repo: str | None = None,
    *,
    fill: bool = False,
) -> list[tuple[str, float]]:
    """(id, ts_rank) best first; any term may match (OR), rank rewards matching many.

    Candidates are the entries holding the query's rarest terms (SELECTING_ENTRIES), and
    ts_rank scores them on every term of the query. With ``fill``, when they are fewer than
    ``limit``, the entries of the next wider selection follow them, best first, up to
    ``limit``: a keyword search shows as many hits as match, the rarest terms' first (so a
    later hit may score higher than an earlier one). Without it (hybrid's keyword half,
    fused with a full semantic list) the first selection that holds any entry is the list.
    """
    where, params = _filter_sql(entity_type, status, repo)

    def ranking(after_ranked: bool) -> sql.Composed:
        rest = " AND NOT e.tsv @@ to_tsquery('english', %(ranked)s)" if after_ranked else ""
        return sql.SQL(
            "SELECT e.id, ts_rank(e.tsv, q, 1) AS score "
            "FROM catalog_entries e, to_tsquery('english', %(tsquery)s) AS q "
            "WHERE e.tsv @@ to_tsquery('english', %(selecting)s){}{} "
            "ORDER BY score DESC, e.id LIMIT %(limit)s"
        ).format(sql.SQL(rest), where)

    tsquery = " | ".join(terms)
    params.update(tsquery=tsquery)
    rows: list[tuple[Any, ...]] = []
    ranked: str | None = None  # the selection whose entries ``rows`` already holds
    # each selection holds the terms of the one before it: the entries it adds are those
    # that do not match the one before
    for selecting in selections(conn, terms):
        found = conn.execute(
            ranking(ranked is not None),
            {**params, "selecting": selecting, "ranked": ranked, "limit": limit - len(rows)},
        ).fetchall()
        rows.extend(found)
        if rows and (not fill or len(rows) >= limit):
            break
        if rows:
            ranked = selecting
    if not rows:  # nothing matched: say so if full-text search had nothing to look for
        empty = conn.execute("SELECT numnode(to_tsquery('english', %s)) = 0", (tsquery,)).fetchone()
        if empty and empty[0]:
            raise StopWordQuery(
                f"the query terms {terms} are all stop words for full-text search; add a "
                "word that names what you are looking for"
            )
    return [(r[0], float(r[1])) for r in rows]


def _ranked(
    conn: psycopg.Connection[Any],
    candidates: sql.Composed,
    params: dict[str, Any],
    with_entries: bool,
) -> list[Ranked]:
    """Run ``candidates`` (rows of entry_id, distance, best first) and, with
    ``with_entries``, bring each entry (without its body) in the same statement: one round
    trip for a whole semantic search."""
    if not with_entries:
        rows = conn.execute(candidates, params, prepare=True).fetchall()
        return [(r[0], 1.0 - float(r[1]), None) for r in rows]
    query = sql.SQL(
        "WITH c AS MATERIALIZED ({candidates}) SELECT c.distance, x.* FROM c, LATERAL "
        "({entry} WHERE e.id = c.entry_id) x ORDER BY c.distance, c.entry_id"
    ).format(candidates=candidates, entry=sql.SQL(_ENTRY_WITHOUT_BODY))
    rows = conn.execute(query, params, prepare=True).fetchall()
    return [(r[1], 1.0 - float(r[0]), storage.row_to_entry(r[1:])) for r in rows]


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
    *,
    with_entries: bool = False,
) -> list[Ranked]:
    """(id, cosine similarity, entry or None) best first. Sets ``hnsw.ef_search`` on the
    session.

    ``embedder_id`` keeps vectors of any other embedder out of the result (an empty result
    then tells the caller to check which embedder the catalog holds). With a filter, the
    result holds ``limit`` entries whenever that many match: a small matching set is
    searched exactly, a large one through HNSW with a candidate list sized to the share of
    the catalog it holds, and exactly after all when that list held too few of them.
    """
    where, filter_params = _filter_sql(entity_type, status, repo)
    own: sql.Composable = sql.SQL(" AND v.embedder = %(embedder)s") if embedder_id else sql.SQL("")
    params: dict[str, Any] = {"q": vector, "embedder": embedder_id, "limit": limit}
    params.update(filter_params)
    d = sql.Literal(dim)
    distance = sql.SQL("v.embedding::vector({d}) <=> %(q)s::vector({d})").format(d=d)

    def hnsw(depth: int) -> sql.Composed:
        # the depth as a literal: one prepared statement per depth, whose generic plan
        # PostgreSQL can keep instead of planning every search again
        return sql.SQL(
            "SELECT v.entry_id, {dist} AS distance FROM catalog_embeddings v "
            "WHERE v.dim = {d}{own} ORDER BY {dist} LIMIT {depth}"
        ).format(dist=distance, d=d, own=own, depth=sql.Literal(depth))

    if not filter_params:
        set_ef_search(conn, max(ef_search, limit))
        return _ranked(conn, hnsw(limit), params, with_entries)
    # exact: order by the plain operator, which the expression index does not serve
    exact = sql.SQL(
        "SELECT v.entry_id, v.embedding <=> %(q)s AS distance FROM catalog_embeddings v "
        "JOIN catalog_entries e ON e.id = v.entry_id WHERE v.dim = {d}{own}{w} "
        "ORDER BY distance, v.entry_id LIMIT %(limit)s"
    ).format(d=d, own=own, w=where)
    matching, share = _matching_share(conn, where, filter_params)
    if matching <= EXACT_FILTERED_MAX:
        return _ranked(conn, exact, params, with_entries)
    depth = filtered_depth(limit, share, ef_search)
    for candidates in sorted({depth, MAX_EF_SEARCH}):
        set_ef_search(conn, candidates)
        post_filtered = sql.SQL(
            "SELECT c.entry_id, c.distance FROM ({hnsw}) c JOIN catalog_entries e "
            "ON e.id = c.entry_id WHERE true{w} ORDER BY c.distance LIMIT %(limit)s"
        ).format(hnsw=hnsw(candidates), w=where)
        ranked = _ranked(conn, post_filtered, params, with_entries)
        if len(ranked) >= limit:
            return ranked
    # This query's nearest neighbours were mostly other entries (a search in one
    # repository for what another one holds): exact over the matching entries.
    return _ranked(conn, exact, params, with_entries)


def _matching_share(
    conn: psycopg.Connection[Any], where: sql.Composable, params: dict[str, Any]
) -> tuple[int, float]:
    """(entries matching the filter, counted up to EXACT_FILTERED_MAX + 1; their share of
    the vectors). Bounded work: past the cap, the share is the planner's estimate (its
    statistics know how many entries each repository, type and status has)."""
    row = conn.execute(
        sql.SQL(
            "SELECT (SELECT count(*) FROM (SELECT 1 FROM catalog_entries e WHERE true{w} "
            "LIMIT {cap}) m), (SELECT reltuples FROM pg_class "
            "WHERE oid = 'catalog_embeddings'::regclass)"
        ).format(w=where, cap=sql.Literal(EXACT_FILTERED_MAX + 1)),
        params,
        prepare=True,
    ).fetchone()
    matching = int(row[0]) if row else 0
    vectors = float(row[1]) if row and row[1] and row[1] > 0 else 0.0
    estimate = float(matching)
    if matching > EXACT_FILTERED_MAX:
        plan = conn.execute(
            sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM catalog_entries e WHERE true{w}").format(
                w=where
            ),
            params,
        ).fetchone()
        if plan:
            estimate = max(estimate, float(plan[0][0]["Plan"]["Plan Rows"]))
    return matching, min(1.0, estimate / vectors) if vectors > 0 else 1.0


def filtered_depth(limit: int, share: float, ef_search: int = EF_SEARCH) -> int:
    """HNSW candidates to take when only ``share`` of the vectors match the filter: twice
    what ``limit`` hits need on average, at least FILTERED_EF_SEARCH, at most what
    pgvector allows."""
    wanted = math.ceil(2 * limit / share) if share > 0 else MAX_EF_SEARCH
    return min(MAX_EF_SEARCH, max(FILTERED_EF_SEARCH, ef_search, limit, wanted))


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
    model = (embedder or default_embedder()) if mode in ("semantic", "hybrid") else None
    # embedded before a connection is borrowed: the pool lends it for SQL only
    vector = model.embed([query])[0] if model is not None else None
    depth = limit if mode != "hybrid" else max(HYBRID_DEPTH, limit)

    def semantic(conn: psycopg.Connection[Any], with_entries: bool) -> list[Ranked]:
        assert model is not None
        ranked = semantic_ranking(
            conn, vector, model.dimension, depth, etype, stat, ef_search, model.id, repo,
            with_entries=with_entries,
        )  # fmt: skip
        if not ranked:  # empty catalog, filters matched nothing, or another embedder
            storage.require_same_embedder(conn, model)
        return ranked

    def search(conn: psycopg.Connection[Any]) -> list[SearchHit]:
        if mode == "semantic":  # one statement: neighbours and their entries
            return [
                SearchHit(entry=entry, score=sim, semantic_rank=rank, similarity=sim)
                for rank, (_, sim, entry) in enumerate(semantic(conn, True), 1)
                if entry is not None
            ]
        keyword = keyword_ranking(conn, terms, depth, etype, stat, repo, fill=mode == "keyword")
        fused: list[Fused]
        if mode == "keyword":
            fused = [
                (i, s, {"keyword_rank": r, "keyword_score": s})
                for r, (i, s) in enumerate(keyword, 1)
            ]
        else:
            ranked = [(i, sim) for i, sim, _ in semantic(conn, False)]
            fused = _fuse(keyword, ranked, limit)
        entries = storage.get_entries(conn, [f[0] for f in fused], with_body=False)
        return [
            SearchHit(entry=entries[entry_id], score=score, **facts)
            for entry_id, score, facts in fused
            if entry_id in entries
        ]

    return run_search(store, search)


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
        ranked = [
            (i, sim)
            for i, sim, _ in semantic_ranking(conn, stored[1], model.dimension, limit + 1)
            if i != entry_id
        ][:limit]
        return ranked, storage.get_entries(conn, [r[0] for r in ranked], with_body=False)

    ranked, entries = run_search(store, search)
    return [
        SearchHit(entry=entries[i], score=s, semantic_rank=rank, similarity=s)
        for rank, (i, s) in enumerate(ranked, start=1)
        if i in entries
    ]
