DROP TABLE update_mode_changes;
DROP TABLE mini_program_versions;
DROP TABLE mini_programs;
