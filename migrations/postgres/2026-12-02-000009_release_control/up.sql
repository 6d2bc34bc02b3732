-- Release control: rollout plans that advance by themselves, the partner
-- gates asked before any share of devices changes, and rollbacks.

-- Why a version went offline: set when a rollback took it offline, and
-- such a version is never served again.
ALTER TABLE mini_program_versions ADD COLUMN offline_reason TEXT;
-- Which full release each full release replaced: what a rollback of it
-- restores.
CREATE TABLE version_replacements (
    version_id TEXT PRIMARY KEY REFERENCES mini_program_versions (id),
    replaced_version_id TEXT NOT NULL REFERENCES mini_program_versions (id)
);

CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    version_id TEXT NOT NULL REFERENCES mini_program_versions (id),
    mini_program_id TEXT NOT NULL REFERENCES mini_programs (id),
    workspace_id TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The plan as JSON: [{"percentage", "holdSeconds", "reachedAt"}].
    steps TEXT NOT NULL,
    current_step INTEGER NOT NULL,
    next_advance_at TIMESTAMP,
    paused_reason TEXT,
    started_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- The process applying the next step, until the lease runs out.
    lease_owner TEXT,
    lease_expires_at TIMESTAMP
);
-- A version has at most one plan in force.
CREATE UNIQUE INDEX rollouts_in_force ON rollouts (version_id) WHERE status IN ('RUNNING', 'PAUSED');
CREATE INDEX rollouts_of_version ON rollouts (version_id, created_at);
CREATE INDEX rollouts_due ON rollouts (next_advance_at) WHERE status = 'RUNNING';

CREATE TABLE release_gates (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The name as names compare (NFKC, case folded: domain::name_key).
    name_key TEXT NOT NULL,
    url TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    -- The signing secret (whsec_...); it must be readable to sign checks.
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX release_gates_of_workspace ON release_gates (workspace_id, created_at);
CREATE UNIQUE INDEX release_gates_name_key_unique ON release_gates (workspace_id, name_key);
