-- The repositories one store models: each is a Dagster partition (its name is the key).
CREATE TABLE IF NOT EXISTS repositories (
    name            text PRIMARY KEY
                    CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' AND position('..' in name) = 0),
    source          text NOT NULL CHECK (source IN ('local', 'git')),
    -- absolute path of a local checkout, or the URL of a git repository ('' when unknown:
    -- rows of a database built before repositories existed, see 0005)
    location        text NOT NULL,
    branch          text,
    added_at        timestamptz NOT NULL DEFAULT now(),
    last_refresh_at timestamptz,
    last_sha        text,
    last_run_id     text
);
