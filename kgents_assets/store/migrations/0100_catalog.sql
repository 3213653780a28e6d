-- L-gent catalog: entries, their vectors, and typed relationships between entries.
--
-- Vectors live in one table with an untyped `vector` column because the dimension depends
-- on the configured embedder (512 hashing, 384 MiniLM, 1536 OpenAI...). The HNSW index is
-- an expression index per dimension, `(embedding::vector(N)) vector_cosine_ops WHERE dim =
-- N`, created by the catalog code the first time vectors of dimension N are written
-- (kgents_assets/catalog/storage.py: ensure_vector_index); queries use the same expression
-- and predicate so the planner picks it. One table keeps "one embedding per entry" a
-- primary key and lets an embedder change replace vectors in one transaction.
CREATE TABLE IF NOT EXISTS catalog_entries (
    id                 text PRIMARY KEY,
    entity_type        text NOT NULL CHECK (entity_type IN (
        'agent', 'contract', 'memory', 'spec', 'test', 'template', 'pattern', 'tongue',
        'hypothesis', 'module', 'class', 'function', 'method')),
    name               text NOT NULL CHECK (name <> ''),
    version            text NOT NULL DEFAULT '1',
    description        text NOT NULL CHECK (btrim(description) <> ''),
    keywords           text[] NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active', 'deprecated', 'retired', 'draft')),
    origin             text NOT NULL CHECK (origin IN ('node', 'fixture', 'registered')),
    author             text,
    node_id            text,
    path               text,
    body               text NOT NULL DEFAULT '',
    deprecation_reason text,
    metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- hash of the text the vector is computed from: unchanged hash, no re-embedding
    text_hash          text NOT NULL,
    -- hash of every stored field: unchanged fingerprint, no write at all
    fingerprint        text NOT NULL,
    -- weighted full-text document: name (A), description + keywords (B), body (C)
    tsv                tsvector NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS catalog_entries_tsv ON catalog_entries USING gin (tsv);
CREATE INDEX IF NOT EXISTS catalog_entries_type ON catalog_entries (entity_type, status);
CREATE INDEX IF NOT EXISTS catalog_entries_origin ON catalog_entries (origin);
CREATE INDEX IF NOT EXISTS catalog_entries_node ON catalog_entries (node_id);

CREATE TABLE IF NOT EXISTS catalog_embeddings (
    entry_id    text PRIMARY KEY REFERENCES catalog_entries (id) ON DELETE CASCADE,
    embedder    text NOT NULL,
    dim         integer NOT NULL CHECK (dim > 0),
    text_hash   text NOT NULL,
    embedding   vector NOT NULL CHECK (vector_dims(embedding) = dim),
    embedded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS catalog_embeddings_embedder ON catalog_embeddings (embedder);

-- Each kind's graph is a DAG: the catalog checks reachability before inserting an edge.
CREATE TABLE IF NOT EXISTS catalog_relationships (
    src  text NOT NULL REFERENCES catalog_entries (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN (
        'successor_to', 'forked_from', 'depends_on', 'tested_by', 'implements', 'extends')),
    dst  text NOT NULL REFERENCES catalog_entries (id) ON DELETE CASCADE,
    PRIMARY KEY (src, kind, dst),
    CHECK (src <> dst)
);
CREATE INDEX IF NOT EXISTS catalog_relationships_dst ON catalog_relationships (dst, kind);
