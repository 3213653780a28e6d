-- kv values (node states above all) are stored out of line uncompressed, like hub_nodes'
-- sources (0024). This server build compresses TOAST with pglz only: on a first build of
-- Django, 5k of the 44k states pass the 2 kB TOAST threshold, and compressing them was
-- ~0.3 s of the ~2.4 s of server CPU their COPY costs (measured on clones of one store,
-- three alternating pairs); every later read of them (markdown, catalog, test creation's
-- record) paid for decompressing. Rows stored before keep their compression until
-- rewritten; readers see the same values either way.
ALTER TABLE kv ALTER COLUMN value SET STORAGE EXTERNAL;
