-- Shared streams of the gateway's agents (gateway/streams): every replica of the gateway
-- appends the events its agents emit here and reflects everyone's into its own mirror.
-- One row per stream holds its head: allocating seqs by updating that row serialises the
-- writers of one agent, so seqs are gap-free and commit (hence NOTIFY) in seq order.
CREATE TABLE IF NOT EXISTS gateway_streams (
    agent_id   text PRIMARY KEY,
    epoch      text NOT NULL,
    head       bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The events themselves, each frame exactly as observers receive it (encoded once, by the
-- replica that produced it). Only the last N per agent are kept (retention).
CREATE TABLE IF NOT EXISTS gateway_events (
    agent_id   text NOT NULL,
    seq        bigint NOT NULL,
    frame      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, seq)
);
