-- Device check-ins, per program and hour and kind: an exact count, and the
-- distinct devices as a HyperLogLog sketch of the device ids' hashes. Each
-- process adds what it counted since its last flush (counts are increments,
-- sketches are merged under the row's lock, never overwritten).
CREATE TABLE check_in_hours (
    mini_program_id TEXT NOT NULL REFERENCES mini_programs (id),
    hour TIMESTAMP NOT NULL,
    -- '' when nothing was cached (a first open): a key column cannot be NULL.
    cached_version TEXT NOT NULL,
    action TEXT NOT NULL,
    gray BOOLEAN NOT NULL,
    -- The cache age against the program's timers: FRESH (before the async
    -- time), DUE (past it, or unknown) or STALE (at or past the sync time).
    cache_age TEXT NOT NULL,
    check_ins BIGINT NOT NULL,
    devices BYTEA NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (mini_program_id, hour, cached_version, action, gray, cache_age)
);
-- Retention deletes by hour across programs.
CREATE INDEX check_in_hours_by_hour ON check_in_hours (hour);
