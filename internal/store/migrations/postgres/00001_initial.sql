-- Schema of vigil serve's store (PostgreSQL). migrations/sqlite holds the
-- same schema for SQLite; keep the two identical in meaning.
-- Times are Unix nanoseconds (UTC); 0 means unset.

-- +goose Up
-- One row per committed queue message; the key makes CommitBatch idempotent.
CREATE TABLE processed_batches (
    key          TEXT    PRIMARY KEY,
    source       TEXT    NOT NULL,
    events       BIGINT  NOT NULL,
    detections   BIGINT  NOT NULL,
    committed_at BIGINT  NOT NULL
);
CREATE INDEX processed_batches_committed_at ON processed_batches (committed_at);

-- Detections in commit order: CommitBatch takes a transaction-scoped
-- advisory lock before inserting, so ids are assigned in commit order and a
-- client tailing with a cursor never skips a row committed late.
CREATE TABLE detections (
    id        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time      BIGINT  NOT NULL,
    rule_id   TEXT    NOT NULL,
    level     TEXT    NOT NULL,
    computer  TEXT    NOT NULL,
    stored_at BIGINT  NOT NULL,
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
    received   BIGINT  NOT NULL DEFAULT 0,
    rejected   BIGINT  NOT NULL DEFAULT 0,
    processed  BIGINT  NOT NULL DEFAULT 0,
    detections BIGINT  NOT NULL DEFAULT 0
);

-- Rules switched off through the API; a rule not listed is enabled.
CREATE TABLE disabled_rules (
    rule_id     TEXT    PRIMARY KEY,
    disabled_at BIGINT  NOT NULL
);

CREATE TABLE tokens (
    id        TEXT    PRIMARY KEY,
    name      TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    created   BIGINT  NOT NULL,
    last_used BIGINT  NOT NULL DEFAULT 0,
    revoked   BOOLEAN NOT NULL DEFAULT FALSE
);

-- Read positions of tailed files (or any other resumable source).
CREATE TABLE offsets (
    key    TEXT    PRIMARY KEY,
    byte_offset BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE offsets;
DROP TABLE tokens;
DROP TABLE disabled_rules;
DROP TABLE source_stats;
DROP TABLE detections;
DROP TABLE processed_batches;
