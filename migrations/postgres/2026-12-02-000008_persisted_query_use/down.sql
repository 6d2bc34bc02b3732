DROP INDEX persisted_queries_by_last_use;
ALTER TABLE persisted_queries DROP COLUMN last_used_at;
