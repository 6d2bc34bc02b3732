-- Mutations per principal per minute, shared by every process.
CREATE TABLE mutation_rate_windows (
    principal TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (principal, window_start)
);
CREATE INDEX mutation_rate_windows_age ON mutation_rate_windows (window_start);
