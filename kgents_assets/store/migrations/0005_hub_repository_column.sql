-- Every hub row carries its repository, and node ids become "{repo}:{hash}" so they are
-- unique across repositories. A database built before this migration holds one repository:
-- its rows are assigned to the name the upgrading process gives in the session setting
-- kgents.legacy_repo (kg hub --once PATH passes the name it derives for PATH), else
-- 'default'. Ids are rewritten everywhere they are stored, state JSON included, so the
-- upgraded model equals what a cold build under that name gives.
DO $$
DECLARE
    legacy text := coalesce(nullif(current_setting('kgents.legacy_repo', true), ''), 'default');
    legacy_path text := coalesce(current_setting('kgents.legacy_repo_path', true), '');
    prefix text := legacy || ':';
BEGIN
    IF EXISTS (SELECT 1 FROM hub_files) OR EXISTS (SELECT 1 FROM hub_nodes) THEN
        INSERT INTO repositories (name, source, location)
        VALUES (legacy, 'local', legacy_path) ON CONFLICT (name) DO NOTHING;
    END IF;

    ALTER TABLE hub_files ADD COLUMN repo text;
    UPDATE hub_files SET repo = legacy;
    ALTER TABLE hub_files ALTER COLUMN repo SET NOT NULL;
    ALTER TABLE hub_files DROP CONSTRAINT hub_files_pkey;
    ALTER TABLE hub_files ADD PRIMARY KEY (repo, path);

    ALTER TABLE hub_nodes ADD COLUMN repo text;
    UPDATE hub_nodes SET repo = legacy, node_id = prefix || node_id,
        extract = jsonb_set(extract, '{node_id}', to_jsonb(prefix || (extract->>'node_id')));
    ALTER TABLE hub_nodes ALTER COLUMN repo SET NOT NULL;

    ALTER TABLE hub_edges ADD COLUMN repo text;
    UPDATE hub_edges SET repo = legacy, src_id = prefix || src_id, dst_id = prefix || dst_id;
    ALTER TABLE hub_edges ALTER COLUMN repo SET NOT NULL;

    ALTER TABLE hub_traces ADD COLUMN repo text;
    UPDATE hub_traces SET repo = legacy, node_id = prefix || node_id;

    ALTER TABLE hub_dirty ADD COLUMN repo text;
    UPDATE hub_dirty SET repo = legacy, node_id = prefix || node_id;
    ALTER TABLE hub_dirty ALTER COLUMN repo SET NOT NULL;

    ALTER TABLE kv ADD COLUMN repo text;
    UPDATE kv SET repo = legacy,
        key = 'node:' || prefix || substr(key, 6),
        value = jsonb_set(jsonb_set(jsonb_set(value,
            '{node_id}', to_jsonb(prefix || (value->>'node_id'))),
            '{callers}', (SELECT coalesce(jsonb_agg(jsonb_set(e, '{node_id}',
                to_jsonb(prefix || (e->>'node_id'))) ORDER BY ord), '[]'::jsonb)
                FROM jsonb_array_elements(value->'callers') WITH ORDINALITY AS t(e, ord))),
            '{callees}', (SELECT coalesce(jsonb_agg(jsonb_set(e, '{node_id}',
                to_jsonb(prefix || (e->>'node_id'))) ORDER BY ord), '[]'::jsonb)
                FROM jsonb_array_elements(value->'callees') WITH ORDINALITY AS t(e, ord)))
    WHERE key LIKE 'node:%:state';
END $$;

CREATE INDEX IF NOT EXISTS hub_nodes_repo_file ON hub_nodes (repo, file_path);
CREATE INDEX IF NOT EXISTS hub_nodes_repo_name ON hub_nodes (repo, name);
CREATE INDEX IF NOT EXISTS hub_nodes_repo_full_name ON hub_nodes (repo, full_name);
DROP INDEX IF EXISTS hub_nodes_file;
DROP INDEX IF EXISTS hub_nodes_name;
DROP INDEX IF EXISTS hub_nodes_full_name;
CREATE INDEX IF NOT EXISTS hub_edges_repo ON hub_edges (repo);
CREATE INDEX IF NOT EXISTS hub_traces_repo ON hub_traces (repo);
CREATE INDEX IF NOT EXISTS hub_dirty_repo_stage ON hub_dirty (repo, stage);
CREATE INDEX IF NOT EXISTS kv_repo ON kv (repo) WHERE repo IS NOT NULL;
