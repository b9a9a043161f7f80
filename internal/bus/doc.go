// Package bus is vigil serve's durable event queue: a NATS JetStream stream
// of event batches and one consumer group of detection workers.
//
// By default the JetStream server runs inside the process (no listening
// port) with its files in the data directory; with a URL, the same code
// talks to an external NATS cluster, so several vigil processes share the
// work. A batch is published only when JetStream has stored it; a worker
// acknowledges a batch only after its detections are stored, so a crash
// at any moment loses no accepted batch (it is delivered again). Each batch
// carries a unique id (the JetStream message id), which the store uses to
// recognise a batch it has already committed, so a redelivery adds no
// duplicate; publishing the same id again within the stream's duplicate
// window is a no-op, which is how a client's retried request is absorbed.
//
// The stream is bounded in bytes and refuses new batches when full
// (ErrFull): ingest then slows down or answers "try later" instead of
// exhausting memory or disk.
package bus
