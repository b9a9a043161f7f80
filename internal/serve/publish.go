package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/event"
)

// publisher is what ingest hands encoded batches to: the bus, or a test
// double.
type publisher interface {
	Publish(ctx context.Context, b *bus.Batch) error
}

// Batch limits: a batch is published when it holds maxBatchEvents events or
// about maxBatchBytes bytes (under NATS's default 1 MiB message size).
const (
	maxBatchEvents = 1000
	maxBatchBytes  = 900 << 10
)

// errEventTooLarge is returned for one event whose wire form exceeds a
// batch on its own.
var errEventTooLarge = fmt.Errorf("event larger than %d KiB after decoding; skipped", maxBatchBytes>>10)

// newID returns a random batch id.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// batchBuilder accumulates events in wire form for one publish.
type batchBuilder struct {
	data     []byte
	events   int
	received time.Time
}

// add appends ev; it reports false when the batch is full (ev not added)
// and returns errEventTooLarge for an event that can never fit.
func (b *batchBuilder) add(ev *event.Event, now time.Time) (bool, error) {
	n := len(b.data)
	b.data = event.AppendWire(b.data, ev)
	return b.commit(n, now)
}

// addWire is add for an event already in wire form.
func (b *batchBuilder) addWire(wire []byte, now time.Time) (bool, error) {
	n := len(b.data)
	b.data = append(b.data, wire...)
	return b.commit(n, now)
}

// commit keeps the event appended at data[n:] if the batch has room.
func (b *batchBuilder) commit(n int, now time.Time) (bool, error) {
	size := len(b.data) - n
	if b.events >= maxBatchEvents || len(b.data) > maxBatchBytes {
		b.data = b.data[:n]
		if size > maxBatchBytes {
			return true, errEventTooLarge
		}
		return false, nil // the batch is full: publish it, then add the event again
	}
	if b.events == 0 {
		b.received = now
	}
	b.events++
	return true, nil
}

func (b *batchBuilder) reset() {
	b.data = b.data[:0]
	b.events = 0
}

// streamBatcher collects events from continuous sources (syslog, tailed
// files) and publishes them when a batch is full or has waited linger.
// When the queue refuses (full) or fails, add blocks and retries, so a
// stream source slows down (TCP backpressure) instead of losing events or
// growing memory.
type streamBatcher struct {
	pub    publisher
	source string
	linger time.Duration
	onErr  func(error)
	onPub  func(events int)

	mu sync.Mutex
	b  batchBuilder
}

func newStreamBatcher(pub publisher, source string, linger time.Duration, onErr func(error), onPub func(int)) *streamBatcher {
	return &streamBatcher{pub: pub, source: source, linger: linger, onErr: onErr, onPub: onPub}
}

// add queues ev for publishing. It returns an error only for an event that
// cannot be published (too large) or when ctx ends while the queue is
// refusing.
func (s *streamBatcher) add(ctx context.Context, ev *event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		ok, err := s.b.add(ev, time.Now())
		if err != nil {
			return err
		}
		if ok {
			if s.b.events >= maxBatchEvents {
				return s.flushLocked(ctx)
			}
			return nil
		}
		if err := s.flushLocked(ctx); err != nil {
			return err
		}
	}
}

// run flushes partial batches every linger until ctx is done, then flushes
// what is left (with a short grace period).
func (s *streamBatcher) run(ctx context.Context) {
	t := time.NewTicker(s.linger)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			s.flush(fctx)
			cancel()
			return
		case <-t.C:
			s.mu.Lock()
			if s.b.events > 0 && time.Since(s.b.received) >= s.linger {
				_ = s.flushLocked(ctx)
			}
			s.mu.Unlock()
		}
	}
}

func (s *streamBatcher) flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked(ctx)
}

// flushLocked publishes the pending batch, retrying with back-off while the
// queue is full or unreachable, until ctx ends.
func (s *streamBatcher) flushLocked(ctx context.Context) error {
	if s.b.events == 0 {
		return nil
	}
	batch := &bus.Batch{ID: newID(s.source + "-"), Source: s.source, Events: s.b.events, Received: s.b.received, Data: s.b.data}
	if err := publishPatiently(ctx, s.pub, batch, s.onErr); err != nil {
		return fmt.Errorf("%d events not queued: %w", s.b.events, err)
	}
	if s.onPub != nil {
		s.onPub(s.b.events)
	}
	s.b.reset()
	return nil
}

// publishPatiently publishes batch, retrying with back-off (50 ms doubling
// to 2 s) while the queue is full or unreachable, until ctx ends. Sources
// that cannot answer "try later" (syslog, tailed and dropped files) wait
// this way, which slows their reading instead of losing events. onErr, if
// set, hears about failures other than a full queue.
func publishPatiently(ctx context.Context, pub publisher, batch *bus.Batch, onErr func(error)) error {
	delay := 50 * time.Millisecond
	for {
		err := pub.Publish(ctx, batch)
		if err == nil {
			return nil
		}
		if onErr != nil && !errors.Is(err, bus.ErrFull) {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
