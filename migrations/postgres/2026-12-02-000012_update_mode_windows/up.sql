-- Update-mode windows: a change of the global mode at `starts_at`, and its
-- revert at `ends_at`, applied by the scheduler once across processes.
CREATE TABLE scheduled_update_mode_changes (
    id TEXT PRIMARY KEY,
    mini_program_id TEXT NOT NULL REFERENCES mini_programs (id),
    workspace_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP,
    status TEXT NOT NULL,
    -- The mode the start replaced, and the program's revision right after it.
    revert_to TEXT,
    started_revision INTEGER,
    created_by TEXT NOT NULL,
    note TEXT,
    created_at TIMESTAMP NOT NULL,
    -- When the scheduler next acts: the start, then the end; NULL when done.
    due_at TIMESTAMP,
    -- The process applying it, until the lease runs out.
    lease_owner TEXT,
    lease_expires_at TIMESTAMP
);
CREATE INDEX scheduled_update_mode_changes_of_program ON scheduled_update_mode_changes (mini_program_id, starts_at);
CREATE INDEX scheduled_update_mode_changes_due ON scheduled_update_mode_changes (due_at) WHERE due_at IS NOT NULL;
