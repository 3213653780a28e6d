-- A node's source (and the "before" kept beside it) is stored out of line uncompressed.
-- This server build compresses TOAST with pglz only: on a first build of Django that was
-- ~1 s of server CPU for ~35 MB of module and class bodies, and every later read paid for
-- decompressing them. Uncompressed they take more room and read no slower. Rows stored
-- before keep their compression until rewritten; readers see the same values either way.
ALTER TABLE hub_nodes
    ALTER COLUMN source SET STORAGE EXTERNAL,
    ALTER COLUMN state_source SET STORAGE EXTERNAL;

-- A new node is written without a copy of its source as its "before"
-- (kgents_assets/hub/refresh_files.py); the copy is made when its source first changes.
COMMENT ON COLUMN hub_nodes.state_source IS
    'the source the node''s state was derived from (the diff bundle''s "before"); '
    'NULL: the same as source';
