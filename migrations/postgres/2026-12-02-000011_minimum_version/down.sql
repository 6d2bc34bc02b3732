ALTER TABLE mini_programs DROP COLUMN minimum_version;
