-- Documents of automatic persisted queries, by the SHA-256 of their text
-- (lowercase hex): shared by every process, so a client that registered a
-- document through one process may send only its hash to another.
CREATE TABLE persisted_queries (
    hash TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
