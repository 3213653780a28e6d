-- Code-node model of the target repository. Node state itself lives in kv under
-- node:{node_id}:state; these tables are the indexes that make refreshes incremental.
CREATE TABLE IF NOT EXISTS hub_files (
    path         text PRIMARY KEY,
    mtime_ns     bigint NOT NULL,
    size         bigint NOT NULL,
    content_hash text NOT NULL,
    language     text,
    status       text NOT NULL,
    error        text,
    module       text NOT NULL DEFAULT '',
    imports      jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE IF NOT EXISTS hub_nodes (
    node_id     text PRIMARY KEY,
    file_path   text NOT NULL,
    kind        text NOT NULL,
    name        text NOT NULL,
    qualname    text NOT NULL,
    full_name   text NOT NULL,
    class_name  text,
    is_test     boolean NOT NULL DEFAULT false,
    source      text NOT NULL DEFAULT '',
    -- the source the current node state was derived from: the diff bundle's "before"
    state_source text,
    call_names  text[] NOT NULL DEFAULT '{}',
    -- for a test: the node names its own name points at (test_save_twice -> save, save_twice)
    tested_names text[] NOT NULL DEFAULT '{}',
    -- the CodeNode as discovery found it, minus its source
    extract     jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS hub_nodes_call_names ON hub_nodes USING gin (call_names);
CREATE INDEX IF NOT EXISTS hub_nodes_tested_names ON hub_nodes USING gin (tested_names);
CREATE INDEX IF NOT EXISTS hub_nodes_file ON hub_nodes (file_path);
CREATE INDEX IF NOT EXISTS hub_nodes_name ON hub_nodes (name);
CREATE INDEX IF NOT EXISTS hub_nodes_full_name ON hub_nodes (full_name);

CREATE TABLE IF NOT EXISTS hub_edges (
    src_id     text NOT NULL,
    dst_id     text NOT NULL,
    confidence real NOT NULL,
    PRIMARY KEY (src_id, dst_id)
);
CREATE INDEX IF NOT EXISTS hub_edges_dst ON hub_edges (dst_id);

-- One row per node a run decided about: the signals seen and each candidate's fate.
CREATE TABLE IF NOT EXISTS hub_traces (
    id         bigserial PRIMARY KEY,
    run_id     text NOT NULL,
    node_id    text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    backend    text NOT NULL,
    signals    jsonb NOT NULL,
    decisions  jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS hub_traces_node ON hub_traces (node_id);
CREATE INDEX IF NOT EXISTS hub_traces_run ON hub_traces (run_id);
