DROP TABLE release_gates;
DROP TABLE rollouts;
DROP TABLE version_replacements;
ALTER TABLE mini_program_versions DROP COLUMN offline_reason;
