"""Reading and writing the catalog tables. Callers own the transaction: every function
takes a connection, so a sync's writes commit together or not at all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import psycopg
from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb

from kgents_assets.catalog.embedders.base import Embedder, Vectors
from kgents_assets.catalog.errors import EmbedderMismatch, EntryNotFound, RelationshipCycle
from kgents_assets.catalog.models import CatalogEntry, RelationKind
from kgents_assets.catalog.text import expand_identifiers, text_hash

log = logging.getLogger(__name__)

EMBEDDER_META_KEY = "catalog:embedder"
HNSW_MAX_DIM = 2000  # pgvector 0.6: larger `vector` columns cannot be HNSW-indexed
#: Graph degree and build-time candidate list. ef_construction 128 (pgvector's default is
#: 64) buys recall at query time for twice the build time; bench/catalog_bench.py measures it.
#: Not IVFFlat, although it builds 10-20x faster and inserts at thousands/s: the hashing
#: embedder's vectors (~40 of 512 dimensions set) form no clusters, so its recall@10 stays
#: at 0.51-0.73 even probing a fifth of the lists, and slower than HNSW at 0.96
#: (bench/vector_index_bench.py, 44k and 100k entries).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
INDEX_BUILD_MEMORY = "1GB"
#: A write of at least this many vectors, and at least as many as the index holds, drops the
#: index and builds it again afterwards: pgvector inserts into a live HNSW graph at ~170
#: vectors/s here, a build after the load does 44k in a few seconds.
BULK_REBUILD_MIN = 2000
_ENTRY_COLUMNS = (
    "id", "entity_type", "name", "version", "description", "keywords", "status", "origin",
    "author", "node_id", "path", "body", "deprecation_reason", "metadata", "text_hash",
    "fingerprint", "repo",
)  # fmt: skip
_SELECT_ENTRY = (
    "SELECT id, entity_type, name, version, description, keywords, status, origin, author, "
    "node_id, path, body, deprecation_reason, metadata, created_at, updated_at, "
    "(SELECT coalesce(jsonb_object_agg(kind, dsts), '{}'::jsonb) FROM ("
    "  SELECT kind, jsonb_agg(dst ORDER BY dst) AS dsts FROM catalog_relationships r"
    "  WHERE r.src = e.id GROUP BY kind) k) AS relationships, repo "
    "FROM catalog_entries e"
)


_VECTOR_TYPES: dict[tuple[str, str, str], TypeInfo] = {}


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Teach the connection the ``vector`` type (numpy arrays in and out, binary).

    The type's oid is looked up once per database, not on every connection.
    """
    key = (conn.info.host, str(conn.info.port), conn.info.dbname)
    info = _VECTOR_TYPES.get(key)
    if info is None:
        info = TypeInfo.fetch(conn, "vector")
        if info is None:
            raise psycopg.ProgrammingError("the vector extension is not installed")
        _VECTOR_TYPES[key] = info
    register_vector_info(conn, info)


def catalog_lock(conn: psycopg.Connection[Any], repo: str | None = None) -> None:
    """Serialise catalog writers for a transaction: one repository's sync waits only for
    another sync of the same repository; ``repo=None`` (registering, a store-wide
    reindex, an embedder change) waits for every writer and they for it."""
    if repo is None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('kgents:catalog'))")
    else:
        conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext('kgents:catalog'))")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"kgents:catalog:{repo}",))


def catalog_lock_for_sync(
    conn: psycopg.Connection[Any], repo: str | None, writes_shared: Callable[[], bool]
) -> None:
    """The catalog lock of a sync of ``repo`` (None: every repository): shared with other
    repositories' syncs, or the store-wide one when it will write what they all share
    (``writes_shared``: a missing vector index, changed fixture entries).

    Syncs that find shared parts to write queue on a second lock, the builder's, and ask
    ``writes_shared`` again once they hold it: of many syncs that found the index missing,
    the first builds it alone (holding the builder's lock until it commits) and each of
    the others, which waited for that, then writes side by side with the rest. Waiting
    for the builder never means waiting for the syncs that write beside each other."""
    if repo is None or not writes_shared():
        catalog_lock(conn, repo)
        return
    # a session lock, so that a sync with nothing left to build lets the next one ask at
    # once (on an error the transaction's connection closes, which releases it)
    conn.execute("SELECT pg_advisory_lock(hashtext('kgents:catalog:builder'))")
    alone = writes_shared()
    if alone:  # the builder: keeps the builder's lock until it commits
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('kgents:catalog:builder'))")
    conn.execute("SELECT pg_advisory_unlock(hashtext('kgents:catalog:builder'))")
    catalog_lock(conn, None if alone else repo)


def holds_whole_catalog(conn: psycopg.Connection[Any]) -> bool:
    """Whether this transaction writes the catalog alone: it took the store-wide lock, or
    can take it now because no other writer is in a transaction (then it keeps it).

    Creating or dropping a vector index is only safe then. Two repositories' syncs that
    each wrote rows would deadlock on it: ``CREATE INDEX`` waits for the other's row
    writes to commit, while the other waits on this one (the same index name, or its own
    ``CREATE INDEX`` waiting for this transaction's rows)."""
    row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext('kgents:catalog'))").fetchone()
    return bool(row and row[0])


def needs_vector_index(conn: psycopg.Connection[Any], dim: int) -> bool:
    """Whether ``dim``'s vectors should have an HNSW index that does not exist yet (a sync
    that will build it takes the store-wide lock up front: see ``catalog_lock_for_sync``)."""
    return dim <= HNSW_MAX_DIM and not has_vector_index(conn, dim)


def embedding_text(entry: CatalogEntry) -> str:
    """The text an entry's vector is computed from (its hash decides re-embedding)."""
    head = f"{entry.entity_type.value} {entry.name}\n{entry.description}"
    if entry.keywords:
        head += "\nkeywords: " + ", ".join(entry.keywords)
    return f"{head}\n{entry.body}" if entry.body else head


def entry_fingerprint(entry: CatalogEntry) -> str:
    return text_hash(entry.model_dump_json(exclude={"created_at", "updated_at"}))


class PreparedEntry(NamedTuple):
    """An entry with the strings derived from it, computed once: a sync compares, writes
    and embeds each entry, and at 44k entries every recomputation shows."""

    entry: CatalogEntry
    text: str  # embedding_text(entry)
    text_hash: str
    fingerprint: str


def prepare_entry(entry: CatalogEntry) -> PreparedEntry:
    text = embedding_text(entry)
    return PreparedEntry(entry, text, text_hash(text), entry_fingerprint(entry))


def _known(
    entry: CatalogEntry, prepared: Mapping[str, PreparedEntry] | None
) -> PreparedEntry | None:
    known = prepared.get(entry.id) if prepared is not None else None
    return known if known is not None and known.entry is entry else None


def _prepared(entry: CatalogEntry, prepared: Mapping[str, PreparedEntry] | None) -> PreparedEntry:
    return _known(entry, prepared) or prepare_entry(entry)


def _text_hash(entry: CatalogEntry, prepared: Mapping[str, PreparedEntry] | None) -> str:
    known = _known(entry, prepared)
    return known.text_hash if known is not None else text_hash(embedding_text(entry))


def read_embedder_meta(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    row = conn.execute("SELECT value FROM kv WHERE key = %s", (EMBEDDER_META_KEY,)).fetchone()
    return dict(row[0]) if row else None


def write_embedder_meta(conn: psycopg.Connection[Any], embedder: Embedder) -> None:
    conn.execute(
        "INSERT INTO kv (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value, updated_at = now()",
        (EMBEDDER_META_KEY, Jsonb({"id": embedder.id, "dimension": embedder.dimension})),
    )


def require_same_embedder(conn: psycopg.Connection[Any], embedder: Embedder) -> None:
    """Refuse to mix vectors: the catalog's vectors must come from ``embedder``."""
    meta = read_embedder_meta(conn)
    if meta is None or (meta["id"] == embedder.id and meta["dimension"] == embedder.dimension):
        return
    raise EmbedderMismatch(
        f"the catalog's vectors come from {meta['id']} ({meta['dimension']} dimensions) but "
        f"the configured embedder is {embedder.id} ({embedder.dimension} dimensions). "
        "Re-embed the catalog first: materialize `catalog_embeddings` (it re-embeds "
        "everything when the embedder changes) or run `kg library reindex`."
    )


def vector_index_name(dim: int) -> str:
    return f"catalog_embeddings_hnsw_{dim}"


def has_vector_index(conn: psycopg.Connection[Any], dim: int) -> bool:
    # pg_class read with the statement's snapshot, not to_regclass: in a transaction that
    # began before another sync built the index, to_regclass answers from the session's
    # catalog cache and still says "missing" (seen: a sync that had waited for the one
    # building it then took the store-wide lock, and the others waited for it in turn)
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_class WHERE relname = %s AND relkind = 'i' "
        "AND relnamespace = current_schema()::regnamespace)",
        (vector_index_name(dim),),
    ).fetchone()
    return bool(row and row[0])


def ensure_vector_index(conn: psycopg.Connection[Any], dim: int) -> bool:
    """Create the HNSW expression index for ``dim`` if missing; True when created."""
    if dim > HNSW_MAX_DIM:
        return False  # searched exactly: pgvector cannot index it
    if has_vector_index(conn, dim):
        return False
    if not holds_whole_catalog(conn):
        # another repository's sync is writing: building now could deadlock with it. The
        # next sync finds the index missing and builds it under the store-wide lock.
        log.warning(
            "the vector index for %d dimensions is missing and another catalog sync is "
            "running: searches are exact until the next sync builds it",
            dim,
        )
        return False
    name = vector_index_name(dim)
    # The graph is built in memory when it fits (44k 512-d vectors: ~120 MB); past the limit
    # pgvector falls back to a much slower on-disk build. An upper bound, not an allocation.
    conn.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
    # pgvector (0.6+) builds HNSW with parallel workers, but PostgreSQL plans none for a
    # heap under min_parallel_table_scan_size, and 44k vectors live in TOAST, leaving a
    # heap of ~7 MB: without this the build runs on one core (8k vectors, loaded machine:
    # 82 s alone, 33 s with the workers). Put back right after.
    conn.execute("SET LOCAL min_parallel_table_scan_size = 0")
    conn.execute(
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {} ON catalog_embeddings USING hnsw "
            "((embedding::vector({})) vector_cosine_ops) WITH (m = {}, ef_construction = {}) "
            "WHERE dim = {}"
        ).format(
            sql.Identifier(name),
            sql.Literal(dim),
            sql.Literal(HNSW_M),
            sql.Literal(HNSW_EF_CONSTRUCTION),
            sql.Literal(dim),
        )
    )
    conn.execute("SET LOCAL min_parallel_table_scan_size TO DEFAULT")
    return True


def existing_hashes(
    conn: psycopg.Connection[Any], ids: Sequence[str]
) -> dict[str, tuple[str, str, str | None]]:
    """id -> (fingerprint, text_hash, embedder of its vector or None)."""
    rows = conn.execute(
        "SELECT e.id, e.fingerprint, e.text_hash, "
        "CASE WHEN v.text_hash = e.text_hash THEN v.embedder END "
        "FROM catalog_entries e LEFT JOIN catalog_embeddings v ON v.entry_id = e.id "
        "WHERE e.id = ANY(%b)",  # binary: see nodes.load_node_entries
        (list(ids),),
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


#: An entry's keyword-search vector from its three ``search_*`` texts (see ``entry_row``):
#: the name weighs most, then description + keywords, then path + body.
SEARCH_TSV = (
    "setweight(to_tsvector('english', search_a), 'A') || "
    "setweight(to_tsvector('english', search_b), 'B') || "
    "setweight(to_tsvector('english', search_c), 'C')"
)
ENTRY_COLUMNS = _ENTRY_COLUMNS
ENTRY_ROW_COLUMNS = (*_ENTRY_COLUMNS, "search_a", "search_b", "search_c")


def _quoted_element(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _ArrayLiterals(dict[tuple[str, ...], str]):
    """keywords -> their ``text[]`` input literal, every element quoted (so no element
    is read as NULL or split at a comma or a space). A COPY takes the literal as text:
    psycopg's array dumper is Python code that ran once per entry (Django: 44k rows, ~2 s
    of a cold load's CPU), while the keyword lists of code nodes are a few hundred
    distinct tuples. Emptied at ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def __missing__(self, keywords: tuple[str, ...]) -> str:
        if len(self) >= self._limit:
            self.clear()
        value = self[keywords] = "{" + ",".join(map(_quoted_element, keywords)) + "}"
        return value


_KEYWORD_LITERALS = _ArrayLiterals(4096)


def text_array_literal(values: tuple[str, ...]) -> str:
    """``values`` as PostgreSQL's ``text[]`` input reads them back, element for element."""
    return _KEYWORD_LITERALS[values]


def entry_row(p: PreparedEntry) -> tuple[Any, ...]:
    """The values of ``ENTRY_ROW_COLUMNS`` for an entry, as COPY writes them (``keywords``
    as its array literal, which the ``text[]`` column parses)."""
    e = p.entry
    return (
        e.id, e.entity_type.value, e.name, e.version, e.description,
        _KEYWORD_LITERALS[e.keywords], e.status.value, e.origin, e.author, e.node_id, e.path,
        e.body, e.deprecation_reason, Jsonb(e.metadata),
        p.text_hash, p.fingerprint, e.repo,
        expand_identifiers(e.name),
        expand_identifiers(f"{e.description} {' '.join(e.keywords)}"),
        expand_identifiers(f"{e.path or ''} {e.body}"),
    )  # fmt: skip


def upsert_entries(
    conn: psycopg.Connection[Any],
    entries: Sequence[CatalogEntry],
    prepared: Mapping[str, PreparedEntry] | None = None,
) -> int:
    """COPY the entries into a temp table, then one set-based upsert (tsvector built there).
    ``prepared``: derived strings already computed for (some of) the entries."""
    if not entries:
        return 0
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _catalog_in (id text, entity_type text, name text, "
        "version text, description text, keywords text[], status text, origin text, "
        "author text, node_id text, path text, body text, deprecation_reason text, "
        "metadata jsonb, text_hash text, fingerprint text, repo text, search_a text, "
        "search_b text, "
        "search_c text) ON COMMIT DROP"
    )
    conn.execute("TRUNCATE _catalog_in")
    copy_sql = sql.SQL("COPY _catalog_in ({}) FROM STDIN").format(
        sql.SQL(", ").join(map(sql.Identifier, ENTRY_ROW_COLUMNS))
    )
    with conn.cursor().copy(copy_sql) as copy:
        for e in entries:
            copy.write_row(entry_row(_prepared(e, prepared)))
    names = sql.SQL(", ").join(map(sql.Identifier, _ENTRY_COLUMNS))
    updates = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in (*_ENTRY_COLUMNS[1:], "tsv")
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO catalog_entries ({names}, tsv) SELECT {names}, {tsv} FROM _catalog_in "
            "ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = now()"
        ).format(names=names, tsv=sql.SQL(SEARCH_TSV), updates=updates)
    )
    return len(entries)


def indexed_vectors(conn: psycopg.Connection[Any], dim: int) -> int:
    """How many vectors the HNSW index of ``dim`` covers (0 when there is no index)."""
    if not has_vector_index(conn, dim):
        return 0
    row = conn.execute("SELECT count(*) FROM catalog_embeddings WHERE dim = %s", (dim,)).fetchone()
    return int(row[0]) if row else 0


def drop_vector_index_for_bulk(conn: psycopg.Connection[Any], dim: int, incoming: int) -> bool:
    """Drop ``dim``'s HNSW index before writing ``incoming`` vectors when building it again
    afterwards is cheaper than maintaining it; True when dropped (the caller then runs
    ``ensure_vector_index`` in the same transaction, so no committed state lacks it).

    The drop holds an exclusive lock on catalog_embeddings until commit: searches wait for
    the sync instead of reading next to it. Worth it only for a large load, which is when
    maintaining the graph would make them wait far longer anyway for fresh results."""
    if incoming < BULK_REBUILD_MIN:
        return False
    indexed = indexed_vectors(conn, dim)
    if indexed == 0 or incoming < indexed:
        return False
    if not holds_whole_catalog(conn):
        return False  # other repositories' syncs are writing: the index is maintained
    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(vector_index_name(dim))))
    return True


def upsert_embeddings(
    conn: psycopg.Connection[Any],
    entries: Sequence[CatalogEntry],
    vectors: Vectors,
    embedder: Embedder,
    *,
    index: bool = True,
    prepared: Mapping[str, PreparedEntry] | None = None,
) -> int:
    """Binary COPY of the vectors, then one upsert; creates the HNSW index if needed
    (``index=False``: the caller builds it once after a load of many batches)."""
    if not entries:
        return 0
    if vectors.shape != (len(entries), embedder.dimension):
        raise EmbedderMismatch(
            f"embedder {embedder.id} returned vectors of shape {vectors.shape}, expected "
            f"({len(entries)}, {embedder.dimension})"
        )
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _catalog_vec_in (entry_id text, embedder text, "
        "dim integer, text_hash text, embedding vector) ON COMMIT DROP"
    )
    conn.execute("TRUNCATE _catalog_vec_in")
    with conn.cursor().copy(
        "COPY _catalog_vec_in (entry_id, embedder, dim, text_hash, embedding) "
        "FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "text", "int4", "text", "vector"])
        for entry, vector in zip(entries, vectors, strict=True):
            copy.write_row(
                (entry.id, embedder.id, embedder.dimension, _text_hash(entry, prepared),
                 np.ascontiguousarray(vector, dtype=np.float32))
            )  # fmt: skip
    conn.execute(
        "INSERT INTO catalog_embeddings (entry_id, embedder, dim, text_hash, embedding) "
        "SELECT entry_id, embedder, dim, text_hash, embedding FROM _catalog_vec_in "
        "ON CONFLICT (entry_id) DO UPDATE SET embedder = EXCLUDED.embedder, "
        "dim = EXCLUDED.dim, text_hash = EXCLUDED.text_hash, "
        "embedding = EXCLUDED.embedding, embedded_at = now()"
    )
    if index:
        ensure_vector_index(conn, embedder.dimension)
    return len(entries)


def has_vector_rows(conn: psycopg.Connection[Any], ids: Sequence[str]) -> bool:
    """Whether any of ``ids`` has a vector row (of any embedder)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM catalog_embeddings WHERE entry_id = ANY(%s))", (list(ids),)
    ).fetchone()
    return bool(row and row[0])


#: COPY's binary format (header, then rows, then the trailer); see copy_new_embeddings.
_BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\0" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
_BINARY_FIELDS = (5).to_bytes(2, "big")
#: Bytes handed to ``Copy.write`` at a time.
_BINARY_CHUNK = 1 << 20


def _binary_text(value: str) -> bytes:
    data = value.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def copy_new_embeddings(
    conn: psycopg.Connection[Any],
    rows: Iterable[tuple[str, str, Vectors]],
    embedder: Embedder,
) -> int:
    """One binary COPY of ``(entry id, text hash, vector)`` rows straight into
    catalog_embeddings: for entries that have no vector row yet (the caller checked, under
    the catalog lock), so there is nothing to upsert and no temp table to go through.
    ``rows`` may be a generator: vectors are written as they are computed.

    The rows are encoded here, in the bytes psycopg's binary dumpers and pgvector's
    ``Vector.to_binary`` send (text as UTF-8, int4 big-endian, a vector as its dimension,
    a zero and big-endian float4s): a ``Vector`` object and psycopg's per-value dumping
    for each of a cold load's 44k rows cost the main process ~10 s (issue 12)."""
    dim = embedder.dimension
    constant = _binary_text(embedder.id) + (4).to_bytes(4, "big") + dim.to_bytes(4, "big")
    vector_head = (4 + 4 * dim).to_bytes(4, "big") + dim.to_bytes(2, "big") + bytes(2)
    written = 0
    with conn.cursor().copy(
        "COPY catalog_embeddings (entry_id, embedder, dim, text_hash, embedding) "
        "FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        buffer = bytearray(_BINARY_SIGNATURE)
        for entry_id, hashed, vector in rows:
            if vector.shape != (dim,):
                raise EmbedderMismatch(
                    f"embedder {embedder.id} returned a vector of shape {vector.shape}, "
                    f"expected ({dim},)"
                )
            buffer += _BINARY_FIELDS
            buffer += _binary_text(entry_id)
            buffer += constant
            buffer += _binary_text(hashed)
            buffer += vector_head
            # float32 first, as the general path converts it, then big-endian
            buffer += np.asarray(vector, dtype=np.float32).astype(">f4").tobytes()
            written += 1
            if len(buffer) >= _BINARY_CHUNK:
                copy.write(buffer)
                buffer = bytearray()
        buffer += _BINARY_TRAILER
        copy.write(buffer)
    return written


def delete_entries(conn: psycopg.Connection[Any], ids: Iterable[str]) -> int:
    cur = conn.execute("DELETE FROM catalog_entries WHERE id = ANY(%s)", (list(ids),))
    return cur.rowcount


def replace_relationships(
    conn: psycopg.Connection[Any],
    sources: Sequence[str],
    edges: Iterable[tuple[str, RelationKind, str]],
) -> int:
    """Make ``sources``' outgoing edges exactly ``edges`` (dangling targets are dropped),
    then refuse the whole write if any new edge closed a cycle."""
    conn.execute("DELETE FROM catalog_relationships WHERE src = ANY(%s)", (list(sources),))
    rows = [(s, k.value, d) for s, k, d in edges if s != d]
    if not rows:
        return 0
    cur = conn.execute(
        "INSERT INTO catalog_relationships (src, kind, dst) "
        "SELECT s, k, d FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(s, k, d) "
        "WHERE EXISTS (SELECT 1 FROM catalog_entries WHERE id = d) "
        "ON CONFLICT DO NOTHING RETURNING src, kind, dst",
        ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
    )
    inserted = cur.fetchall()
    refuse_cycles(conn, inserted)
    return len(inserted)


def copy_new_relationships(
    conn: psycopg.Connection[Any],
    edges: Iterable[tuple[str, RelationKind, str]],
    written: Iterable[str],
) -> int:
    """Store the outgoing edges of entries that had none: those the caller just created,
    under the catalog lock (a cold load). Like ``replace_relationships``, dangling targets
    are dropped and a cycle refuses the whole write, but the rows go in one COPY: nothing
    to delete, nothing to conflict with (duplicates are dropped here), and only targets
    outside ``written`` need a look-up. Measured on Django's 115k edges: 7.6 s of server
    CPU for the upsert with its per-row existence check, 5.4 s for the COPY."""
    rows = sorted({(s, k.value, d) for s, k, d in edges if s != d})
    if not rows:
        return 0
    known = set(written)
    others = sorted({d for _, _, d in rows if d not in known})
    if others:
        known.update(
            r[0]
            for r in conn.execute(
                "SELECT id FROM catalog_entries WHERE id = ANY(%s)", (others,)
            ).fetchall()
        )
        rows = [r for r in rows if r[2] in known]
    with conn.cursor().copy("COPY catalog_relationships (src, kind, dst) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    refuse_cycles(conn, rows)
    return len(rows)


def refuse_cycles(conn: psycopg.Connection[Any], edges: Sequence[tuple[str, str, str]]) -> None:
    """Raise ``RelationshipCycle`` if any of ``edges``, just stored, closed a cycle."""
    if not edges:
        return
    row = conn.execute(
        "WITH RECURSIVE walk(origin, kind, node) AS ("
        " SELECT s, k, d FROM unnest(%b::text[], %b::text[], %b::text[]) AS t(s, k, d)"
        " UNION"
        " SELECT w.origin, w.kind, r.dst FROM walk w"
        " JOIN catalog_relationships r ON r.src = w.node AND r.kind = w.kind"
        ") SELECT origin, kind FROM walk WHERE node = origin LIMIT 1",
        ([e[0] for e in edges], [e[1] for e in edges], [e[2] for e in edges]),
    ).fetchone()
    if row:
        raise RelationshipCycle(
            f"relationship {row[1]} would form a cycle through entry {row[0]!r}: "
            f"{row[1]} relationships must stay acyclic"
        )


def add_relationship(conn: psycopg.Connection[Any], src: str, kind: RelationKind, dst: str) -> None:
    for entry_id in (src, dst):
        if (
            conn.execute("SELECT 1 FROM catalog_entries WHERE id = %s", (entry_id,)).fetchone()
            is None
        ):
            raise EntryNotFound(f"no catalog entry {entry_id!r}")
    if src == dst:
        raise RelationshipCycle(f"entry {src!r} cannot be {kind.value} itself")
    conn.execute(
        "INSERT INTO catalog_relationships (src, kind, dst) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (src, kind.value, dst),
    )
    refuse_cycles(conn, [(src, kind.value, dst)])


def row_to_entry(row: Sequence[Any]) -> CatalogEntry:
    (id_, etype, name, version, description, keywords, status, origin, author, node_id, path,
     body, deprecation_reason, metadata, created_at, updated_at, relationships,
     repo) = row  # fmt: skip
    return CatalogEntry(
        id=id_, entity_type=etype, name=name, version=version, description=description,
        keywords=tuple(keywords), status=status, origin=origin, author=author,
        node_id=node_id, path=path, body=body, deprecation_reason=deprecation_reason,
        metadata=metadata, created_at=created_at, updated_at=updated_at,
        relationships={RelationKind(k): tuple(v) for k, v in (relationships or {}).items()},
        repo=repo,
    )  # fmt: skip


def get_entry(conn: psycopg.Connection[Any], entry_id: str) -> CatalogEntry:
    row = conn.execute(_SELECT_ENTRY + " WHERE e.id = %s", (entry_id,)).fetchone()
    if row is None:
        raise EntryNotFound(f"no catalog entry {entry_id!r} (see `kg library catalog`)")
    return row_to_entry(row)


def get_entries(
    conn: psycopg.Connection[Any], ids: Sequence[str], *, with_body: bool = True
) -> dict[str, CatalogEntry]:
    """Entries by id. ``with_body=False`` leaves ``body`` empty: search results skip the
    (up to 20k characters of) source text nobody displays in a result list."""
    select = _SELECT_ENTRY if with_body else _SELECT_ENTRY.replace(" body,", " ''::text,", 1)
    rows = conn.execute(select + " WHERE e.id = ANY(%s)", (list(ids),)).fetchall()
    return {r[0]: row_to_entry(r) for r in rows}


def list_entries(
    conn: psycopg.Connection[Any],
    *,
    entity_type: str | None = None,
    status: str | None = None,
    origin: str | None = None,
    repo: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[CatalogEntry]:
    where, params = _filters(entity_type=entity_type, status=status, origin=origin, repo=repo)
    query = _SELECT_ENTRY + where + " ORDER BY e.entity_type, e.name, e.id"
    if limit is not None:
        query += " LIMIT %s OFFSET %s"
        params += [limit, offset]
    return [row_to_entry(r) for r in conn.execute(query, params).fetchall()]


def _filters(**filters: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in filters.items():
        if value is not None:
            clauses.append(f"e.{column} = %s")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def entry_vector(conn: psycopg.Connection[Any], entry_id: str) -> tuple[str, Vectors] | None:
    """(embedder id, vector) of an entry, or None when it has none."""
    row = conn.execute(
        "SELECT embedder, embedding FROM catalog_embeddings WHERE entry_id = %s", (entry_id,)
    ).fetchone()
    if row is None:
        return None
    return row[0], np.asarray(row[1].to_numpy(), dtype=np.float32)


def vector_coverage(
    conn: psycopg.Connection[Any], repo: str | None
) -> tuple[int, int, int, list[str]]:
    """(entries, with a vector, with an outdated vector, up to 20 ids lacking one) over the
    entries of ``repo`` and those of no repository (fixtures, registered)."""
    scope = "(e.repo = %(r)s OR e.repo IS NULL)" if repo is not None else "true"
    row = conn.execute(
        "SELECT count(*), count(v.entry_id), "
        "count(*) FILTER (WHERE v.entry_id IS NOT NULL AND v.text_hash <> e.text_hash) "
        f"FROM catalog_entries e LEFT JOIN catalog_embeddings v ON v.entry_id = e.id "
        f"WHERE {scope}",
        {"r": repo},
    ).fetchone() or (0, 0, 0)
    missing = [
        r[0]
        for r in conn.execute(
            "SELECT e.id FROM catalog_entries e LEFT JOIN catalog_embeddings v "
            "ON v.entry_id = e.id WHERE (v.entry_id IS NULL OR v.text_hash <> e.text_hash) "
            f"AND {scope} ORDER BY e.id LIMIT 20",
            {"r": repo},
        ).fetchall()
    ]
    return int(row[0]), int(row[1]), int(row[2]), missing


def catalog_stats(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    def grouped(column: str) -> dict[str, int]:
        rows = conn.execute(
            sql.SQL("SELECT {} , count(*) FROM catalog_entries GROUP BY 1 ORDER BY 1").format(
                sql.Identifier(column)
            )
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    total = conn.execute("SELECT count(*) FROM catalog_entries").fetchone()
    embedded = conn.execute(
        "SELECT count(*) FROM catalog_embeddings v JOIN catalog_entries e ON e.id = v.entry_id "
        "AND e.text_hash = v.text_hash"
    ).fetchone()
    dims = conn.execute(
        "SELECT embedder, dim, count(*) FROM catalog_embeddings GROUP BY 1, 2 ORDER BY 1"
    ).fetchall()
    relationships = conn.execute(
        "SELECT kind, count(*) FROM catalog_relationships GROUP BY 1 ORDER BY 1"
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_embeddings' "
        "AND indexname LIKE 'catalog_embeddings_hnsw_%%' ORDER BY 1"
    ).fetchall()
    return {
        "entries": total[0] if total else 0,
        "embedded_current": embedded[0] if embedded else 0,
        "by_type": grouped("entity_type"),
        "by_status": grouped("status"),
        "by_origin": grouped("origin"),
        "vectors": [{"embedder": r[0], "dimension": r[1], "count": r[2]} for r in dims],
        "relationships": {r[0]: r[1] for r in relationships},
        "hnsw_indexes": [r[0] for r in indexes],
        "embedder": read_embedder_meta(conn),
    }
