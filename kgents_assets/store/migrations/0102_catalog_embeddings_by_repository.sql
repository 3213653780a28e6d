-- One vector index per repository (issue 12). catalog_embeddings becomes a table LIST-
-- partitioned by the entry's repository, each partition with its own HNSW expression index
-- per dimension (partitions of the partitioned index `catalog_embeddings_hnsw_{dim}`), so a
-- repository's cold load builds a new partition off to the side and attaches it: no other
-- repository's index is rebuilt, and searches of other repositories do not wait on it.
--
-- `repo_key` is the entry's repository, '' for an entry of none (fixtures, registered); not
-- a DEFAULT partition: attaching a partition next to a DEFAULT one locks and scans the
-- default, blocking every cross-repository search.
--
-- No foreign key to catalog_entries any more: attaching a partition of a table with one
-- takes a SHARE ROW EXCLUSIVE lock on catalog_entries, so a cold load's attach waited for
-- every other repository's sync writing entries, and two syncs of new repositories
-- deadlocked (each holding entries, each waiting for the other's attach). A statement
-- trigger keeps the cascade: deleting entries deletes their vectors, one partition at a
-- time (the key prunes to it). Vectors are written only for entries written first.
-- Partition tables are named catalog_embeddings_{first 16 hex of md5(repo_key)}_{n}
-- (kgents_assets/catalog/partitions.py): repository names are not all valid identifiers.
DO $$
DECLARE
    dims int[];
    d int;
    k text;
BEGIN
    ALTER TABLE catalog_entries
        ADD COLUMN repo_key text GENERATED ALWAYS AS (coalesce(repo, '')) STORED;

    SELECT coalesce(array_agg(DISTINCT substring(indexname FROM '_(\d+)$')::int), '{}')
        INTO dims FROM pg_indexes
        WHERE tablename = 'catalog_embeddings' AND indexname ~ '^catalog_embeddings_hnsw_\d+$';
    ALTER TABLE catalog_embeddings RENAME TO catalog_embeddings_unpartitioned;
    ALTER TABLE catalog_embeddings_unpartitioned
        RENAME CONSTRAINT catalog_embeddings_pkey TO catalog_embeddings_unpartitioned_pkey;
    DROP INDEX IF EXISTS catalog_embeddings_embedder;
    FOREACH d IN ARRAY dims LOOP
        EXECUTE format('DROP INDEX %I', 'catalog_embeddings_hnsw_' || d);
    END LOOP;

    CREATE TABLE catalog_embeddings (
        entry_id    text NOT NULL,
        repo_key    text NOT NULL,
        embedder    text NOT NULL,
        dim         integer NOT NULL CHECK (dim > 0),
        text_hash   text NOT NULL,
        embedding   vector NOT NULL CHECK (vector_dims(embedding) = dim),
        embedded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (entry_id, repo_key)
    ) PARTITION BY LIST (repo_key);
    CREATE INDEX catalog_embeddings_embedder ON catalog_embeddings (embedder);

    FOR k IN
        SELECT '' UNION SELECT DISTINCT e.repo_key FROM catalog_embeddings_unpartitioned v
        JOIN catalog_entries e ON e.id = v.entry_id
    LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF catalog_embeddings FOR VALUES IN (%L)',
                       'catalog_embeddings_' || left(md5(k), 16) || '_0', k);
    END LOOP;
    INSERT INTO catalog_embeddings
        (entry_id, repo_key, embedder, dim, text_hash, embedding, embedded_at)
        SELECT v.entry_id, e.repo_key, v.embedder, v.dim, v.text_hash, v.embedding,
               v.embedded_at
        FROM catalog_embeddings_unpartitioned v JOIN catalog_entries e ON e.id = v.entry_id;
    DROP TABLE catalog_embeddings_unpartitioned;

    -- the same build settings as kgents_assets/catalog/storage.py ensure_vector_index
    PERFORM set_config('maintenance_work_mem', '1GB', true);
    PERFORM set_config('min_parallel_table_scan_size', '0', true);
    -- each partition's index under the name a partition built later gives its own, then
    -- the parent's, which adopts them
    FOREACH d IN ARRAY dims LOOP
        FOR k IN
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'catalog_embeddings'::regclass
        LOOP
            EXECUTE format(
                'CREATE INDEX %I ON %I USING hnsw ((embedding::vector(%s)) '
                'vector_cosine_ops) WITH (m = 16, ef_construction = 128) WHERE dim = %s',
                k || '_hnsw_' || d, k, d, d);
        END LOOP;
        EXECUTE format(
            'CREATE INDEX %I ON catalog_embeddings USING hnsw ((embedding::vector(%s)) '
            'vector_cosine_ops) WITH (m = 16, ef_construction = 128) WHERE dim = %s',
            'catalog_embeddings_hnsw_' || d, d, d);
    END LOOP;
END $$;

CREATE FUNCTION catalog_embeddings_follow_entries() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    k text;
BEGIN
    FOR k IN SELECT DISTINCT repo_key FROM gone LOOP
        -- EXECUTE: planned with the key's value, so only its partition is read
        EXECUTE 'DELETE FROM catalog_embeddings WHERE repo_key = $1 AND entry_id IN '
                '(SELECT id FROM gone WHERE repo_key = $1)' USING k;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER catalog_entries_delete_vectors AFTER DELETE ON catalog_entries
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION catalog_embeddings_follow_entries();
