-- Journal rows, failure contexts and daemon actions carry the repository they concern.
DO $$
DECLARE
    legacy text := coalesce(nullif(current_setting('kgents.legacy_repo', true), ''), 'default');
BEGIN
    ALTER TABLE sensor_events ADD COLUMN repo text;
    ALTER TABLE sensor_failure_contexts ADD COLUMN repo text;
    ALTER TABLE sensor_actions ADD COLUMN repo text;
    IF EXISTS (SELECT 1 FROM repositories WHERE name = legacy) THEN
        UPDATE sensor_events SET repo = legacy;
        UPDATE sensor_failure_contexts SET repo = legacy,
            test_node_id = legacy || ':' || test_node_id WHERE test_node_id IS NOT NULL;
        UPDATE sensor_actions SET repo = legacy;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS sensor_events_repo_seq ON sensor_events (repo, kind, seq);
