-- Event journal: everything the sources saw, in order. Dagster sensors keep ``seq`` as
-- their cursor, so a restarted daemon or sensor resumes exactly where it stopped.
CREATE TABLE IF NOT EXISTS sensor_events (
    seq         bigserial PRIMARY KEY,
    kind        text NOT NULL,
    priority    smallint NOT NULL,
    key         text NOT NULL,
    source      text NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS sensor_events_kind_seq ON sensor_events (kind, seq);

-- What the test-failure sensor worked out about a failing test: the test's node and the
-- nodes it exercises, so an agent (or a person) starts from the right code.
CREATE TABLE IF NOT EXISTS sensor_failure_contexts (
    id            bigserial PRIMARY KEY,
    event_seq     bigint NOT NULL UNIQUE REFERENCES sensor_events (seq),
    test_nodeid   text NOT NULL,
    test_node_id  text,
    file_path     text NOT NULL,
    message       text NOT NULL DEFAULT '',
    nodes         jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sensor_failure_contexts_test ON sensor_failure_contexts (test_nodeid);

-- Actions the daemon took or proposed, gated by its trust level.
CREATE TABLE IF NOT EXISTS sensor_actions (
    id           bigserial PRIMARY KEY,
    action       text NOT NULL,
    trust_level  smallint NOT NULL,
    status       text NOT NULL,
    description  text NOT NULL,
    token_id     text,
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sensor_actions_status ON sensor_actions (status);
