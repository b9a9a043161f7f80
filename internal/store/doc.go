// Package store is the database of vigil serve: stored detections, the
// processed-batch markers that make committing a queue message idempotent,
// per-source counters, rule state, API tokens (hashes only, see
// internal/auth) and tail offsets. It sits at the end of the serve
// pipeline:
//
//	queue message -> worker (detect) -> Batch -> CommitBatch -> ack the message
//	API -> Detections / Stats / tokens / rule state
//
// Two back ends share one schema and one implementation on database/sql:
// SQLite (modernc.org/sqlite, pure Go), embedded, the default, one file
// DATA-DIR/vigil.db; and PostgreSQL (pgx) for scale-out, where several
// processes share the database. Open picks one from a URL and applies the
// embedded schema migrations (goose, migrations/sqlite and
// migrations/postgres, kept identical in meaning; on PostgreSQL under an
// advisory lock, so processes may start together). Times are stored as
// Unix nanoseconds in integer columns on both.
//
// # Exactly once
//
// A worker commits the detections of one queue message with CommitBatch
// (or of several with CommitBatches, one transaction and one disk sync for
// all) and acknowledges the message only after it returned. The
// transaction inserts a marker keyed by the message's unique key before
// anything else; if the key exists (a redelivery after a crash before the
// ack), nothing is written and applied is false, so the worker just acks.
// Concurrent commits of one key serialise on the key's unique index:
// exactly one applies. A crash at any moment leaves either the whole batch
// (marker, detections, counters) or nothing.
//
// Markers are pruned after MarkerRetention (24 h): the queue must not
// redeliver a message later than that (JetStream redelivers after its ack
// wait, seconds to minutes; a message older than a day in the queue is a
// broken deployment, and its detections would be stored twice).
//
// # Durability (SQLite)
//
// WAL journal, synchronous=FULL: a commit is on disk when CommitBatch
// returns, which survives kill -9 (NORMAL would too) and also a power cut
// or kernel crash (NORMAL would not: the last commits could be lost after
// their messages were acknowledged). One writer connection serialises
// writes inside the process (busy_timeout covers other processes such as
// `vigil token create`); a pool of read-only connections serves queries
// beside it. The database file is created mode 0600.
//
// # Paging
//
// Detections come in insertion order, by an id that is never reused (even
// after pruning), with an opaque cursor. Rows become visible in id order:
// on SQLite because there is one writer, on PostgreSQL because
// CommitBatches inserts detections under a transaction-scoped advisory
// lock (ids are assigned in commit order). A client can therefore tail:
// Page.Resume (DetectionsPage) is the cursor after the last row returned,
// and polling with it later yields exactly the rows stored since. The cost
// on PostgreSQL is that transactions with detections commit one at a time;
// commit several messages per transaction (CommitBatches) to amortise it.
//
// # Retention
//
// Prune removes detections by age (the time they were stored, not the
// event's time, so old logs ingested today are kept) and by count (the
// newest MaxDetections stay), in chunks of short transactions, and markers
// older than MarkerRetention. Stats are cumulative counters kept in the
// same transactions and are not lowered by pruning.
package store
