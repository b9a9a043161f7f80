package source

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

// TestScanStops checks that Scan returns emit's error or the context's,
// early, and leaves no goroutine behind.
func TestScanStops(t *testing.T) {
	files, err := Expand([]string{corpus(t, "evtx"), corpus(t, "logs/otrf-security-datasets")})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	work := func(u *Unit) int {
		var ev event.Event
		return u.Events(&ev, func(*event.Event) {}, func(error) {})
	}
	stop := errors.New("stop")
	for _, k := range []int{1, 5, 200} {
		n := 0
		err := Scan(context.Background(), files, 3, work, func(int) error {
			n++
			if n == k {
				return stop
			}
			return nil
		})
		if err != stop || n != k {
			t.Errorf("stop after %d units: Scan returned %v after %d", k, err, n)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = Scan(ctx, files, 2, work, func(int) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Scan returned %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines left running (%d before)", g-before, g)
	}
}
