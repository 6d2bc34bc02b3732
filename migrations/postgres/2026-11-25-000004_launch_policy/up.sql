-- The update timers a super app counts per program, and the revision of
-- everything a launch answer depends on.
ALTER TABLE mini_programs ADD COLUMN async_update_seconds INTEGER NOT NULL DEFAULT 3600;
ALTER TABLE mini_programs ADD COLUMN sync_update_seconds INTEGER NOT NULL DEFAULT 864000;
ALTER TABLE mini_programs ADD COLUMN policy_revision INTEGER NOT NULL DEFAULT 1;

-- Keys that super apps present on launch requests; only a hash is kept.
CREATE TABLE client_keys (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX client_keys_workspace ON client_keys (workspace_id, created_at);
