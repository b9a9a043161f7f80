// Package serve is vigil serve: continuous detection in one process, or
// spread over several that share a NATS JetStream cluster and PostgreSQL.
//
// A Server is built by New, which opens the store (internal/store) and the
// queue (internal/bus), creates the first admin token when there is none,
// and opens the listeners, so that every misconfiguration is reported
// before anything runs; Run then runs the parts of its Role until its
// context ends, and shuts down in order: listeners stop, buffered events
// are queued, workers finish the batches they hold.
//
// Ingest (RoleIngest) turns every input into event.Events with the readers
// vigil hunt uses — source.Decoder for NDJSON posted to /api/v1/events and
// for JSON lines of followed files, syslog.Message for syslog (UDP, TCP,
// TLS, followed files), source.Scan for files put in the drop folder — and
// queues them in batches in event's wire form. A batch id is derived from
// the request's Idempotency-Key, the dropped file's digest or the followed
// file's byte range where there is one, so a repeated batch is queued once.
//
// Workers (RoleWorker) decode batches, run the detect.Matcher (and the
// intel index, when loaded) and commit each batch's detections with its
// processed marker in one transaction before acknowledging it: a crash at
// any moment loses no accepted event and stores no detection twice.
//
// The API (RoleAPI) serves stats, detections with cursor paging, rules
// (with switches that workers read every 2 s), tokens, the OpenAPI document
// (openapi.json, held to the route table by a test) and Prometheus metrics;
// every route but /healthz needs a bearer token whose role allows it.
package serve
