package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultStream is the name of the event stream; its subjects are
// "vigil.STREAM.SOURCE". The workers' durable consumer is ConsumerName.
const (
	DefaultStream = "VIGIL_EVENTS"
	ConsumerName  = "vigil-workers"
)

// Message headers.
const (
	hdrSource   = "Vigil-Source"
	hdrEvents   = "Vigil-Events"
	hdrReceived = "Vigil-Received"
)

// publishTimeout bounds the wait for JetStream to confirm a publish.
const publishTimeout = 30 * time.Second

// ErrFull is returned by Publish when the stream holds as many bytes as it
// may: the workers are behind. Retry later.
var ErrFull = errors.New("event queue is full: detection workers are behind; retry later")

// Options configure Open.
type Options struct {
	// URL of an external NATS server with JetStream; "" runs an embedded
	// server storing its files under DataDir/jetstream.
	URL     string
	DataDir string
	// MaxBytes bounds the queued (unprocessed) batches; 0 means 1 GiB.
	MaxBytes int64
	// MaxPayload is the largest batch; 0 means 1 MiB (NATS's default, so
	// that the same batches fit an external server).
	MaxPayload int
	// AckWait is how long a worker may hold a batch before it is given to
	// another; 0 means 30 s.
	AckWait time.Duration
	// Stream names the JetStream stream (default DefaultStream): servers
	// sharing a NATS cluster but serving different organisations each
	// use their own.
	Stream string
	// SyncAlways makes the embedded server fsync every write (survives a
	// power cut, slower). Without it writes reach the operating system
	// before a publish is acknowledged (survives a process crash) and are
	// flushed to disk every 2 minutes.
	SyncAlways bool
}

// Bus is a connection to the event stream.
type Bus struct {
	opts   Options
	srv    *server.Server // nil with an external server
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Open starts the embedded server or connects to the external one, and
// creates the stream and the workers' consumer if they do not exist.
func Open(ctx context.Context, o Options) (*Bus, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 1 << 20
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if strings.ContainsAny(o.Stream, ".*> \t/\\") {
		return nil, fmt.Errorf("stream name %q: use letters, digits, '-' and '_' only", o.Stream)
	}
	b := &Bus{opts: o}
	var err error
	if o.URL == "" {
		if err = b.startEmbedded(); err != nil {
			return nil, err
		}
		b.nc, err = nats.Connect("", nats.InProcessServer(b.srv), nats.Name("vigil"), nats.MaxReconnects(-1))
	} else {
		b.nc, err = nats.Connect(o.URL, nats.Name("vigil"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))
		if err != nil {
			err = fmt.Errorf("connecting to NATS at %s: %w (is the server running and reachable? is the URL right?)", redactURL(o.URL), err)
		}
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	if b.js, err = jetstream.New(b.nc); err != nil {
		b.Close()
		return nil, err
	}
	cfg := jetstream.StreamConfig{
		Name:        o.Stream,
		Description: "vigil: event batches waiting for detection",
		Subjects:    []string{"vigil." + o.Stream + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxBytes:    o.MaxBytes,
		Discard:     jetstream.DiscardNew,
		MaxMsgSize:  int32(o.MaxPayload),
		Duplicates:  2 * time.Minute,
	}
	if b.stream, err = b.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		b.Close()
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrJetStreamNotEnabled) {
			return nil, fmt.Errorf("NATS server at %s does not have JetStream enabled: start it with -js (nats-server -js)", redactURL(o.URL))
		}
		return nil, fmt.Errorf("creating the JetStream stream %s: %w", o.Stream, err)
	}
	_, err = b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "vigil detection workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1024,
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("creating the JetStream consumer %s: %w", ConsumerName, err)
	}
	return b, nil
}

func (b *Bus) startEmbedded() error {
	dir := filepath.Join(b.opts.DataDir, "jetstream")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the queue directory: %w", err)
	}
	opts := &server.Options{
		ServerName:         "vigil-embedded",
		DontListen:         true,
		JetStream:          true,
		StoreDir:           dir,
		NoLog:              true,
		NoSigs:             true,
		MaxPayload:         int32(b.opts.MaxPayload),
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  b.opts.MaxBytes * 2,
		SyncAlways:         b.opts.SyncAlways,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("starting the embedded NATS server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("the embedded NATS server did not start within 30 s (queue files in %s)", dir)
	}
	b.srv = srv
	return nil
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() error {
	if b.nc != nil {
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	return nil
}

// Embedded reports whether the server runs inside this process.
func (b *Bus) Embedded() bool { return b.srv != nil }

// Batch is a published batch of events in event wire form.
type Batch struct {
	ID       string    // unique id; the same id published twice is stored once
	Source   string    // ingest source tag (e.g. "http", "syslog-udp")
	Events   int       // number of events in Data
	Received time.Time // when ingest received the first event
	Data     []byte
}

// Publish stores a batch in the stream, returning once JetStream has it.
// It returns ErrFull when the queue is at its limit.
func (b *Bus) Publish(ctx context.Context, batch *Batch) error {
	if batch.ID == "" {
		return errors.New("bus: batch without id")
	}
	m := nats.NewMsg("vigil." + b.opts.Stream + "." + subjectToken(batch.Source))
	m.Header.Set(hdrSource, batch.Source)
	m.Header.Set(hdrEvents, strconv.Itoa(batch.Events))
	m.Header.Set(hdrReceived, strconv.FormatInt(batch.Received.UnixNano(), 10))
	m.Data = batch.Data
	if _, ok := ctx.Deadline(); !ok {
		// Wait for the stored acknowledgement longer than the client's
		// default: an overloaded server answers late, and an answer
		// given up on leaves the caller unsure whether the batch is in.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	_, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(batch.ID))
	if err != nil {
		if isFull(err) {
			return fmt.Errorf("%w (%v)", ErrFull, err)
		}
		return fmt.Errorf("queueing %d events: %w", batch.Events, err)
	}
	return nil
}

// isFull reports whether a publish failed because the stream is at its
// limits (JetStream answers "maximum bytes exceeded" and the like).
func isFull(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "maximum bytes exceeded") || strings.Contains(msg, "maximum messages exceeded") ||
		strings.Contains(msg, "insufficient resources")
}

// subjectToken makes a source tag usable as a subject token.
func subjectToken(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
}

// Delivery is a batch handed to a worker. The worker calls Ack once the
// batch's results are stored, or Nak to have it delivered again.
type Delivery struct {
	Batch
	Attempt uint64 // 1 on first delivery
	msg     jetstream.Msg
}

// Ack tells the queue the batch is done; it is removed from the stream.
func (d *Delivery) Ack(ctx context.Context) error {
	if d.msg == nil {
		return nil // not from a queue (a test or benchmark)
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	return d.msg.DoubleAck(ctx)
}

// Nak asks for the batch to be delivered again after delay.
func (d *Delivery) Nak(delay time.Duration) error {
	if d.msg == nil {
		return nil
	}
	return d.msg.NakWithDelay(delay)
}

// InProgress extends the time the worker may hold the batch.
func (d *Delivery) InProgress() error {
	if d.msg == nil {
		return nil
	}
	return d.msg.InProgress()
}

// Consume hands the batches given to this process to handle, from n
// goroutines, until ctx is done. Each call of handle gets one batch or, when
// more are already waiting, up to group of them (so that their results can
// be stored in one transaction). Batches go to every consuming process in
// turn (one consumer group); a batch not acknowledged within AckWait, or
// whose process died, is delivered again, possibly to another process.
func (b *Bus) Consume(ctx context.Context, n, group int, handle func(context.Context, []*Delivery)) error {
	if group < 1 {
		group = 1
	}
	cons, err := b.stream.Consumer(ctx, ConsumerName)
	if err != nil {
		return fmt.Errorf("opening the workers' consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(n*group+n), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("consuming: %w", err)
	}
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	ch := make(chan *Delivery, n*group)
	go func() {
		defer close(ch)
		for {
			msg, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
					return
				}
				continue
			}
			d, err := delivery(msg)
			if err != nil {
				// A message vigil did not publish: do not loop on it.
				_ = msg.Term()
				continue
			}
			ch <- d
		}
	}()
	done := make(chan struct{})
	for range n {
		go func() {
			defer func() { done <- struct{}{} }()
			var ds []*Delivery
			for d := range ch {
				ds = append(ds[:0], d)
			more:
				for len(ds) < group {
					select {
					case d, ok := <-ch:
						if !ok {
							break more
						}
						ds = append(ds, d)
					default:
						break more
					}
				}
				handle(ctx, ds)
			}
		}()
	}
	for range n {
		<-done
	}
	return ctx.Err()
}

func delivery(msg jetstream.Msg) (*Delivery, error) {
	h := msg.Headers()
	md, err := msg.Metadata()
	if err != nil {
		return nil, err
	}
	id := h.Get(jetstream.MsgIDHeader)
	if id == "" {
		return nil, errors.New("message without id")
	}
	n, err := strconv.Atoi(h.Get(hdrEvents))
	if err != nil {
		return nil, fmt.Errorf("bad %s header", hdrEvents)
	}
	ns, _ := strconv.ParseInt(h.Get(hdrReceived), 10, 64)
	return &Delivery{
		Batch: Batch{
			ID:       id,
			Source:   h.Get(hdrSource),
			Events:   n,
			Received: time.Unix(0, ns),
			Data:     msg.Data(),
		},
		Attempt: md.NumDelivered,
		msg:     msg,
	}, nil
}

// Pending returns the number of batches waiting for a worker and those held
// by workers but not yet acknowledged.
func (b *Bus) Pending(ctx context.Context) (waiting, inFlight uint64, err error) {
	cons, err := b.stream.Consumer(ctx, ConsumerName)
	if err != nil {
		return 0, 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.NumPending, uint64(info.NumAckPending), nil
}

// StreamBytes returns the bytes and batches held by the stream.
func (b *Bus) StreamBytes(ctx context.Context) (bytes, msgs uint64, err error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	return info.State.Bytes, info.State.Msgs, nil
}

// redactURL drops credentials from a URL for messages.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}
