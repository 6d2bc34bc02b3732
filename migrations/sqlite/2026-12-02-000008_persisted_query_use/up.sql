-- When a persisted document was last used, so that documents nobody used for
-- PERSISTED_QUERY_TTL_DAYS can be removed and the table cannot grow forever.
ALTER TABLE persisted_queries ADD COLUMN last_used_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE persisted_queries SET last_used_at = created_at;
CREATE INDEX persisted_queries_by_last_use ON persisted_queries (last_used_at);
