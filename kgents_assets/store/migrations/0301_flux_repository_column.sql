-- A semaphore that concerns a repository (e.g. "write tests/test_x.py into repo R") says so.
ALTER TABLE flux_semaphores ADD COLUMN IF NOT EXISTS repo text;
