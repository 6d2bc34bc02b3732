-- The one statement update-mode runs for the console's list page
-- (bench/graphql.lua MODE=list; src/db/program_pages.rs writes it), as the
-- PostgreSQL log shows it: the first page of :ws (:n = 21: 20 programs and one more,
-- for hasNextPage), each with its :per = 6 newest versions (5 and one more). The limits are
-- bind parameters, as in the server.
SELECT p.id, p.workspace_id, p.name, p.search_name, p.program_type, p.channel, p.update_mode, p.revision, p.created_at, p.updated_at, p.async_update_seconds, p.sync_update_seconds, p.policy_revision, p.minimum_version, ARRAY(SELECT ROW(0, v.id, v.major, v.minor, v.patch, v.status, v.update_mode) FROM mini_program_versions v WHERE v.mini_program_id = p.id ORDER BY v.major DESC, v.minor DESC, v.patch DESC LIMIT :per) AS versions, ARRAY[]::bigint[] AS version_counts, CAST(NULL AS BIGINT) AS total FROM mini_programs p WHERE p.workspace_id = :ws ORDER BY p.search_name ASC, p.id ASC LIMIT :n;
