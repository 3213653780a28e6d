-- Catalog entries of code nodes carry their repository (fixture and registered entries
-- belong to none: NULL). Node entries' ids are node ids, "{repo}:{hash}" since 0005.
DO $$
DECLARE
    legacy text := coalesce(nullif(current_setting('kgents.legacy_repo', true), ''), 'default');
    prefix text := legacy || ':';
BEGIN
    ALTER TABLE catalog_entries ADD COLUMN repo text;
    ALTER TABLE catalog_embeddings DROP CONSTRAINT catalog_embeddings_entry_id_fkey;
    ALTER TABLE catalog_relationships DROP CONSTRAINT catalog_relationships_src_fkey;
    ALTER TABLE catalog_relationships DROP CONSTRAINT catalog_relationships_dst_fkey;
    CREATE TEMP TABLE _node_entries ON COMMIT DROP AS
        SELECT id FROM catalog_entries WHERE origin = 'node';
    UPDATE catalog_entries SET repo = legacy, id = prefix || id,
        node_id = prefix || node_id WHERE origin = 'node';
    UPDATE catalog_embeddings SET entry_id = prefix || entry_id
        WHERE entry_id IN (SELECT id FROM _node_entries);
    UPDATE catalog_relationships SET src = prefix || src
        WHERE src IN (SELECT id FROM _node_entries);
    UPDATE catalog_relationships SET dst = prefix || dst
        WHERE dst IN (SELECT id FROM _node_entries);
    ALTER TABLE catalog_embeddings ADD CONSTRAINT catalog_embeddings_entry_id_fkey
        FOREIGN KEY (entry_id) REFERENCES catalog_entries (id) ON DELETE CASCADE;
    ALTER TABLE catalog_relationships ADD CONSTRAINT catalog_relationships_src_fkey
        FOREIGN KEY (src) REFERENCES catalog_entries (id) ON DELETE CASCADE;
    ALTER TABLE catalog_relationships ADD CONSTRAINT catalog_relationships_dst_fkey
        FOREIGN KEY (dst) REFERENCES catalog_entries (id) ON DELETE CASCADE;
END $$;
CREATE INDEX IF NOT EXISTS catalog_entries_repo ON catalog_entries (repo) WHERE repo IS NOT NULL;
