-- One vector index per repository (issue 12). catalog_embeddings becomes a table LIST-
-- partitioned by the entry's repository, each partition with its own HNSW expression index
-- per dimension (partitions of the partitioned index `catalog_embeddings_hnsw_{dim}`), so a
-- repository's cold load builds a new partition off to the side and attaches it: no other
-- repository's index is rebuilt, and searches of other repositories do not wait on it.
--
-- `repo_key` is the entry's repository, '' for an entry of none (fixtures, registered). Not
-- NULL and not a DEFAULT partition: attaching a partition next to a DEFAULT one locks and
-- scans the default (blocking every cross-repository search), and a NULL key would exempt
-- those rows from the cascade of the foreign key below. The key is part of the foreign key
-- so that deleting an entry deletes its vector in one partition, not with a probe of each.
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
    CREATE UNIQUE INDEX catalog_entries_id_repo_key ON catalog_entries (id, repo_key);

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
        PRIMARY KEY (entry_id, repo_key),
        FOREIGN KEY (entry_id, repo_key) REFERENCES catalog_entries (id, repo_key)
            ON DELETE CASCADE ON UPDATE CASCADE
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
    FOREACH d IN ARRAY dims LOOP
        EXECUTE format(
            'CREATE INDEX %I ON catalog_embeddings USING hnsw ((embedding::vector(%s)) '
            'vector_cosine_ops) WITH (m = 16, ef_construction = 128) WHERE dim = %s',
            'catalog_embeddings_hnsw_' || d, d, d);
    END LOOP;
END $$;
