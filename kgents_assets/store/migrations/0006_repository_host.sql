-- The machine a local repository's path belongs to: a path missing on one machine of a
-- shared store is not a checkout that has gone (kgents_assets.repos.registration).
-- NULL for git repositories and for rows registered before this column existed.
ALTER TABLE repositories ADD COLUMN IF NOT EXISTS host text;
