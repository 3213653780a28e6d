-- The hub's demos (issue 11).
--
-- hub_artifacts (kgents_assets/hub/artifacts.py, the only owner): one row per artifact a
-- demo wrote - a failure bundle, an impact summary, a generated test - so processes that
-- did not write it (the gateway's `hub` stream) learn of it, in order, by id.
CREATE TABLE IF NOT EXISTS hub_artifacts (
    id         bigserial PRIMARY KEY,
    repo       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('failure_bundle', 'impact_summary',
                   'test_created', 'test_proposed')),
    subject    text NOT NULL,
    path       text,
    summary    text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hub_artifacts_repo ON hub_artifacts (repo, id);

-- Test creation's memory of the public functions it has looked at
-- (kgents_assets/hub/test_creation.py, the only owner): the source hash each had when last
-- seen, so only NEW or CHANGED functions get a test. A repository's first run fills it and
-- creates nothing (hub_test_baselines says it happened), or a cold build would write a test
-- for every untested function.
CREATE TABLE IF NOT EXISTS hub_test_baselines (
    repo       text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS hub_test_seen (
    repo        text NOT NULL,
    node_id     text NOT NULL,
    source_hash text NOT NULL,
    PRIMARY KEY (repo, node_id)
);

-- Every node's markdown render reads its generated test's last run by node id.
CREATE INDEX IF NOT EXISTS hub_test_runs_node ON hub_test_runs (node_id, id);
