-- Schema of vigil serve's store (SQLite). migrations/postgres holds the same
-- schema for PostgreSQL; keep the two identical in meaning.
-- Times are Unix nanoseconds (UTC); 0 means unset.

-- +goose Up
-- One row per committed queue message; the key makes CommitBatch idempotent.
CREATE TABLE processed_batches (
    key          TEXT    PRIMARY KEY,
    source       TEXT    NOT NULL,
    events       INTEGER NOT NULL,
    detections   INTEGER NOT NULL,
    committed_at INTEGER NOT NULL
);
CREATE INDEX processed_batches_committed_at ON processed_batches (committed_at);

-- Detections in commit order (AUTOINCREMENT: ids are never reused, even
-- after pruning, so paging cursors stay valid).
CREATE TABLE detections (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      INTEGER NOT NULL,
    rule_id   TEXT    NOT NULL,
    level     TEXT    NOT NULL,
    computer  TEXT    NOT NULL,
    stored_at INTEGER NOT NULL,
    body      TEXT    NOT NULL
);
CREATE INDEX detections_rule_id  ON detections (rule_id, id);
CREATE INDEX detections_level    ON detections (level, id);
CREATE INDEX detections_computer ON detections (computer, id);
CREATE INDEX detections_time     ON detections (time);
CREATE INDEX detections_stored   ON detections (stored_at);

-- Cumulative counters per source; retention does not lower them.
CREATE TABLE source_stats (
    source     TEXT    PRIMARY KEY,
    received   INTEGER NOT NULL DEFAULT 0,
    rejected   INTEGER NOT NULL DEFAULT 0,
    processed  INTEGER NOT NULL DEFAULT 0,
    detections INTEGER NOT NULL DEFAULT 0
);

-- Rules switched off through the API; a rule not listed is enabled.
CREATE TABLE disabled_rules (
    rule_id     TEXT    PRIMARY KEY,
    disabled_at INTEGER NOT NULL
);

CREATE TABLE tokens (
    id        TEXT    PRIMARY KEY,
    name      TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    created   INTEGER NOT NULL,
    last_used INTEGER NOT NULL DEFAULT 0,
    revoked   BOOLEAN NOT NULL DEFAULT FALSE
);

-- Read positions of tailed files (or any other resumable source).
CREATE TABLE offsets (
    key    TEXT    PRIMARY KEY,
    byte_offset INTEGER NOT NULL
);

-- +goose Down
DROP TABLE offsets;
DROP TABLE tokens;
DROP TABLE disabled_rules;
DROP TABLE source_stats;
DROP TABLE detections;
DROP TABLE processed_batches;
