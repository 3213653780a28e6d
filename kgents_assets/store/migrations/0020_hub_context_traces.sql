-- Every use of the hub context provider (Python API, kg hub context, REST, MCP): which
-- target was asked for, which node state answered, how old it was and whether it was
-- fresh, stale or missing. Lets a person see what agents were told, and how often the
-- hub was stale when they asked.
CREATE TABLE IF NOT EXISTS hub_context_traces (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    repo          text,
    target        text NOT NULL,
    node_id       text,
    hub_state_key text,
    last_updated  timestamptz,
    freshness     text NOT NULL CHECK (freshness IN ('fresh', 'stale', 'missing')),
    reason        text NOT NULL DEFAULT '',
    surface       text NOT NULL
);
CREATE INDEX IF NOT EXISTS hub_context_traces_repo_at ON hub_context_traces (repo, at);
CREATE INDEX IF NOT EXISTS hub_context_traces_node ON hub_context_traces (node_id);
