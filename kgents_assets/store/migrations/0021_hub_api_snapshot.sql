-- The public API surface of each repository as last seen (kgents_assets/hub/api_surface.py
-- is the only owner): comparing it with the surface now finds removed, renamed and
-- re-signed public symbols, the signal of the API change impact summary. A baseline row
-- says a repository was looked at, even when it has no public symbol.
CREATE TABLE IF NOT EXISTS hub_api_baselines (
    repo       text PRIMARY KEY,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS hub_api_snapshot (
    repo    text NOT NULL,
    node_id text NOT NULL,
    symbol  jsonb NOT NULL,
    PRIMARY KEY (repo, node_id)
);
-- Every API change detected, so a removed symbol can still be asked about by name.
CREATE TABLE IF NOT EXISTS hub_api_changes (
    id          bigserial PRIMARY KEY,
    repo        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('removed', 'renamed', 'signature_changed')),
    full_name   text NOT NULL,
    qualname    text NOT NULL,
    node_id     text NOT NULL,
    old_symbol  jsonb NOT NULL,
    new_symbol  jsonb,
    detected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hub_api_changes_repo_name ON hub_api_changes (repo, full_name);
