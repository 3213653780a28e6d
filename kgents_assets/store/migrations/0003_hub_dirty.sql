-- Work handed from one stage to the next. A stage deletes its marks in the same
-- transaction as its writes, so a run killed midway leaves the marks for the next run.
CREATE TABLE IF NOT EXISTS hub_dirty (
    node_id   text NOT NULL,
    stage     text NOT NULL,
    reason    text NOT NULL DEFAULT '',
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, stage)
);
