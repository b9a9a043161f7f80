package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/event"
)

// memPub is a publisher that keeps batches in memory.
type memPub struct {
	mu      sync.Mutex
	batches []bus.Batch
}

func (p *memPub) Publish(_ context.Context, b *bus.Batch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := *b
	c.Data = bytes.Clone(b.Data)
	p.batches = append(p.batches, c)
	return nil
}

func ingestOnly(pub publisher) *Server {
	return &Server{
		opts:    Options{MaxBody: 1 << 20},
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		metrics: newMetrics(nil),
		counts:  newIngestCounts(),
		pub:     pub,
	}
}

// FuzzEventsBody feeds arbitrary request bodies to the NDJSON ingest: it
// must answer with JSON, never panic, and queue exactly the events it
// says it accepted, each readable back from its batch.
func FuzzEventsBody(f *testing.F) {
	for _, seed := range []string{
		"{\"EventID\":4688,\"CommandLine\":\"cmd /c whoami\"}\n",
		"{\"Event\":{\"System\":{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\"},\"EventData\":{\"Image\":\"C:\\\\x.exe\"}}}\n",
		"[{\"a\":1},{\"b\":[1,2,{\"c\":null}]},3]\n",
		"{broken\n\n{\"x\":\"\\u0000\\ud800\"}\r\n",
		"\x1f\x8b\x08\x00",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pub := &memPub{}
		s := ingestOnly(pub)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/events", bytes.NewReader(body))
		s.handleEvents(rec, req)
		var res ingestResult
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("answer %d is not JSON: %q", rec.Code, rec.Body.Bytes())
		}
		queued := 0
		var r event.WireReader
		var ev event.Event
		for _, b := range pub.batches {
			r.Reset(b.Data)
			n := 0
			for {
				ok, err := r.Next(&ev)
				if err != nil {
					t.Fatalf("queued batch does not decode: %v", err)
				}
				if !ok {
					break
				}
				n++
			}
			if n != b.Events {
				t.Fatalf("batch says %d events, holds %d", b.Events, n)
			}
			queued += n
		}
		if queued != res.Accepted {
			t.Fatalf("answer says %d accepted, %d queued", res.Accepted, queued)
		}
		if rec.Code == http.StatusAccepted && res.Accepted == 0 {
			t.Fatalf("202 with nothing accepted: %s", rec.Body.Bytes())
		}
	})
}
