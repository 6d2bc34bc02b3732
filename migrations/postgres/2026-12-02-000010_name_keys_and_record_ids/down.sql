DROP INDEX audit_records_id;
ALTER TABLE audit_records DROP COLUMN id;
DROP INDEX client_keys_name_key_unique;
DROP INDEX release_integrations_name_key_unique;
DROP INDEX mini_programs_name_key_unique;
ALTER TABLE client_keys DROP COLUMN name_key;
ALTER TABLE release_integrations DROP COLUMN name_key;
ALTER TABLE mini_programs DROP COLUMN name_key;
