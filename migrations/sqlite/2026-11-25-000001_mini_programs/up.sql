-- The PostgreSQL migrations describe the same tables; only the collation differs.
-- Times are stored as UTC without a zone so that one diesel schema fits both.
CREATE TABLE mini_programs (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The name lowercased by the application, so that searching and sorting
    -- by name give the same results on both backends (compared byte by byte).
    search_name TEXT NOT NULL,
    program_type TEXT NOT NULL CHECK (program_type IN ('DSL', 'H5')),
    channel TEXT NOT NULL CHECK (channel IN ('WORKSPACE', 'ALIPAY_PLUS')),
    update_mode TEXT NOT NULL CHECK (update_mode IN ('DEFAULT', 'ASYNC', 'SYNC')),
    revision INTEGER NOT NULL CHECK (revision >= 1),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT mini_programs_name_unique UNIQUE (workspace_id, name)
);

-- Lists of a workspace's programs are paged in this order.
CREATE INDEX mini_programs_listing ON mini_programs (workspace_id, search_name, id);

CREATE TABLE mini_program_versions (
    id TEXT PRIMARY KEY,
    mini_program_id TEXT NOT NULL REFERENCES mini_programs (id),
    major INTEGER NOT NULL CHECK (major >= 0),
    minor INTEGER NOT NULL CHECK (minor >= 0),
    patch INTEGER NOT NULL CHECK (patch >= 0),
    description TEXT,
    status TEXT NOT NULL CHECK (status IN ('NEW_VERSION_CREATED', 'PENDING_APPROVAL', 'APPROVED',
        'REJECTED', 'GRAY_RELEASE', 'FULL_RELEASE', 'OFFLINE')),
    -- Fixed when the version is submitted for release approval, never before.
    update_mode TEXT CHECK (update_mode IN ('DEFAULT', 'ASYNC', 'SYNC')),
    created_at TIMESTAMP NOT NULL,
    submitted_at TIMESTAMP,
    CHECK ((status = 'NEW_VERSION_CREATED') = (update_mode IS NULL)),
    CONSTRAINT mini_program_versions_number_unique UNIQUE (mini_program_id, major, minor, patch)
);

-- The rule "at most one version waits for approval" holds even if a code path forgets it.
CREATE UNIQUE INDEX mini_program_versions_one_pending
    ON mini_program_versions (mini_program_id) WHERE status = 'PENDING_APPROVAL';

CREATE TABLE update_mode_changes (
    mini_program_id TEXT NOT NULL REFERENCES mini_programs (id),
    revision INTEGER NOT NULL,
    previous_mode TEXT NOT NULL CHECK (previous_mode IN ('DEFAULT', 'ASYNC', 'SYNC')),
    mode TEXT NOT NULL CHECK (mode IN ('DEFAULT', 'ASYNC', 'SYNC')),
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (mini_program_id, revision)
);
