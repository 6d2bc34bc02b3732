DROP INDEX mini_program_versions_status;
ALTER TABLE mini_program_versions DROP COLUMN released_at;
ALTER TABLE mini_program_versions DROP COLUMN decision_comment;
ALTER TABLE mini_program_versions DROP COLUMN decided_by;
ALTER TABLE mini_program_versions DROP COLUMN decided_at;
ALTER TABLE mini_program_versions DROP COLUMN gray_percentage;
