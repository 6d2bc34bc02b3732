-- The key each name is unique under in its workspace: NFKC, Unicode case
-- folding, NFKC, without invisible characters (domain::name_key). SQL has no
-- such function on both backends, so the server computes the key: it fills
-- rows without one right after migrating, and writes it with every name.
-- NULL keys (rows not filled yet) never collide.
ALTER TABLE mini_programs ADD COLUMN name_key TEXT;
ALTER TABLE release_integrations ADD COLUMN name_key TEXT;
ALTER TABLE client_keys ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX mini_programs_name_key_unique ON mini_programs (workspace_id, name_key);
CREATE UNIQUE INDEX release_integrations_name_key_unique ON release_integrations (workspace_id, name_key);
-- A revoked key's name may be given to its successor.
CREATE UNIQUE INDEX client_keys_name_key_unique ON client_keys (workspace_id, name_key) WHERE revoked_at IS NULL;

-- An audit record's id, random, so that a page cursor names a record without
-- the global sequence, which counts every workspace's changes.
ALTER TABLE audit_records ADD COLUMN id TEXT NOT NULL DEFAULT '';
UPDATE audit_records SET id = replace(gen_random_uuid()::text, '-', '');
ALTER TABLE audit_records ALTER COLUMN id DROP DEFAULT;
CREATE UNIQUE INDEX audit_records_id ON audit_records (id);
