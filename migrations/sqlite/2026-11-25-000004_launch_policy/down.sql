DROP TABLE client_keys;
ALTER TABLE mini_programs DROP COLUMN policy_revision;
ALTER TABLE mini_programs DROP COLUMN sync_update_seconds;
ALTER TABLE mini_programs DROP COLUMN async_update_seconds;
