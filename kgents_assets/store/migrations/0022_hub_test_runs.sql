-- Test creation (kgents_assets/hub/test_creation.py, the only owner): every skeleton the
-- hub logged, proposed, wrote or ran for an untested public function, at which trust
-- level, with the run's outcome and log. A proposal (trust 2) has its semaphore's token;
-- settling it adds a row with the same token.
CREATE TABLE IF NOT EXISTS hub_test_runs (
    id          bigserial PRIMARY KEY,
    repo        text NOT NULL,
    node_id     text NOT NULL,
    trust_level smallint NOT NULL CHECK (trust_level BETWEEN 0 AND 3),
    outcome     text NOT NULL CHECK (outcome IN ('logged', 'passed', 'failed', 'timeout',
                    'awaiting_human', 'rejected', 'exists')),
    test_path   text,
    pytest_id   text,
    exit_code   integer,
    duration_s  double precision,
    log         text NOT NULL DEFAULT '',
    token_id    text,
    reason      text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hub_test_runs_repo_node ON hub_test_runs (repo, node_id);
CREATE INDEX IF NOT EXISTS hub_test_runs_token ON hub_test_runs (token_id)
    WHERE token_id IS NOT NULL;
