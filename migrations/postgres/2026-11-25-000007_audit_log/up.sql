-- Every accepted mutation, written in the transaction of the change: who,
-- what, when, through which request, and the target before and after (JSON
-- snapshots without secrets). Rows are only ever added.
CREATE TABLE audit_records (
    sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    request_id TEXT,
    before_state TEXT,
    after_state TEXT,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_records_of_workspace ON audit_records (workspace_id, sequence);
