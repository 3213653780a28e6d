-- Flux purgatory: semaphore tokens a human must resolve, kept as an audit trail.
-- Pending tokens live here (not in memory) so they survive a gateway restart.
CREATE TABLE IF NOT EXISTS flux_semaphores (
    id           text PRIMARY KEY,
    agent_id     text NOT NULL,
    reason       text NOT NULL,
    prompt       text NOT NULL,
    options      jsonb NOT NULL DEFAULT '[]'::jsonb,
    severity     text NOT NULL,
    deadline     timestamptz,
    context      jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    cancelled_at timestamptz,
    voided_at    timestamptz,
    resolution   jsonb,
    CHECK (num_nonnulls(resolved_at, cancelled_at, voided_at) <= 1)
);
CREATE INDEX IF NOT EXISTS flux_semaphores_pending
    ON flux_semaphores (agent_id, created_at)
    WHERE resolved_at IS NULL AND cancelled_at IS NULL AND voided_at IS NULL;
CREATE INDEX IF NOT EXISTS flux_semaphores_deadline
    ON flux_semaphores (deadline)
    WHERE deadline IS NOT NULL AND resolved_at IS NULL AND cancelled_at IS NULL
      AND voided_at IS NULL;

CREATE TABLE IF NOT EXISTS flux_semaphore_audit (
    id       bigserial PRIMARY KEY,
    token_id text NOT NULL REFERENCES flux_semaphores (id),
    at       timestamptz NOT NULL DEFAULT now(),
    action   text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS flux_semaphore_audit_token ON flux_semaphore_audit (token_id);
