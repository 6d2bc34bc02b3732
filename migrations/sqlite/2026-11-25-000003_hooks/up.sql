-- Release-approval integrations: partner systems notified by signed webhooks.
CREATE TABLE release_integrations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    -- The subscribed event types, as ",type,type," for exact LIKE matches.
    events TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    -- The signing secret (whsec_...); it must be readable to sign deliveries.
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX release_integrations_workspace ON release_integrations (workspace_id, active);

-- The outbox: written in the transaction of the change that caused it.
-- `sequence` orders events of one program as their changes committed, since
-- every change of a program holds the program's lock.
CREATE TABLE hook_events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    mini_program_id TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    data TEXT NOT NULL
);

-- One delivery of an event to one target: an in-process notify hook
-- ("hook:NAME") or a release integration ("integration:ID").
CREATE TABLE hook_deliveries (
    id TEXT PRIMARY KEY,
    event_sequence BIGINT NOT NULL REFERENCES hook_events (sequence),
    mini_program_id TEXT NOT NULL,
    target TEXT NOT NULL,
    integration_id TEXT REFERENCES release_integrations (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    delivered_at TIMESTAMP,
    -- A process that claimed the delivery and until when; an expired lease
    -- (a crashed process) lets another process take it over.
    lease_owner TEXT,
    lease_expires_at TIMESTAMP,
    CONSTRAINT hook_deliveries_once UNIQUE (target, event_sequence)
);
CREATE INDEX hook_deliveries_due ON hook_deliveries (status, next_attempt_at);
CREATE INDEX hook_deliveries_in_order ON hook_deliveries (target, mini_program_id, status, event_sequence);
CREATE INDEX hook_deliveries_of_integration ON hook_deliveries (integration_id, event_sequence);
