package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, o Options) *Bus {
	t.Helper()
	o.DataDir = t.TempDir()
	b, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestPublishConsumeOnce: published batches arrive with their headers; a
// repeated id is stored once; a batch not acknowledged (Nak) comes again.
func TestPublishConsumeOnce(t *testing.T) {
	b := open(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := time.Now()
	for i := range 5 {
		batch := &Batch{ID: fmt.Sprintf("id-%d", i%4), Source: "syslog-udp", Events: i + 1, Received: now, Data: []byte{byte(i)}}
		if err := b.Publish(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Publish(ctx, &Batch{Source: "x"}); err == nil {
		t.Error("a batch without id was published")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, 2, 4, func(ctx context.Context, ds []*Delivery) {
			mu.Lock()
			defer mu.Unlock()
			for _, d := range ds {
				seen[d.ID]++
				if d.Source != "syslog-udp" || d.Received.UnixNano() != now.UnixNano() || len(d.Data) != 1 {
					t.Errorf("delivery %+v", d.Batch)
				}
				if d.ID == "id-1" && d.Attempt == 1 {
					d.Nak(0)
					continue
				}
				d.Ack(ctx)
			}
		})
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		again := seen["id-1"]
		mu.Unlock()
		if n == 4 && again == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %v", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	stop()
	<-done
	if seen["id-0"] != 1 || seen["id-2"] != 1 || seen["id-3"] != 1 {
		t.Errorf("deliveries: %v (id-0 was published twice, stored once)", seen)
	}
	w, f, err := b.Pending(ctx)
	if err != nil || w != 0 || f != 0 {
		t.Errorf("pending after all acks: %d waiting, %d in flight, %v", w, f, err)
	}
}

// TestFull: a stream at its byte limit refuses with ErrFull.
func TestFull(t *testing.T) {
	b := open(t, Options{MaxBytes: 1 << 20})
	ctx := context.Background()
	data := make([]byte, 200<<10)
	for i := 0; ; i++ {
		err := b.Publish(ctx, &Batch{ID: fmt.Sprint(i), Source: "http", Events: 1, Data: data})
		if errors.Is(err, ErrFull) {
			if i < 3 {
				t.Errorf("full after %d batches of 200 KiB in 1 MiB", i)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if i > 10 {
			t.Fatal("2 MiB accepted into a 1 MiB stream")
		}
	}
}

func TestStreamName(t *testing.T) {
	_, err := Open(context.Background(), Options{DataDir: t.TempDir(), Stream: "a.b"})
	if err == nil || !strings.Contains(err.Error(), "a.b") {
		t.Errorf("bad stream name: %v", err)
	}
	_, err = Open(context.Background(), Options{URL: "nats://127.0.0.1:1", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is the server running") {
		t.Errorf("unreachable server: %v", err)
	}
}
