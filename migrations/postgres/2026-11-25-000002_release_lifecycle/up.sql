-- The release steps after submission: decision, gray and full release.
ALTER TABLE mini_program_versions ADD COLUMN gray_percentage INTEGER
    CHECK (gray_percentage BETWEEN 1 AND 99);
ALTER TABLE mini_program_versions ADD COLUMN decided_at TIMESTAMP;
ALTER TABLE mini_program_versions ADD COLUMN decided_by TEXT;
ALTER TABLE mini_program_versions ADD COLUMN decision_comment TEXT;
ALTER TABLE mini_program_versions ADD COLUMN released_at TIMESTAMP;

-- Launch answers look up a program's released versions.
CREATE INDEX mini_program_versions_status ON mini_program_versions (mini_program_id, status);
