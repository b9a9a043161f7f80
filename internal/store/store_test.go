package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/auth"
)

func batches(ds []Detection, per, events int, source, prefix string) []*Batch {
	var bs []*Batch
	for i := 0; i < len(ds); i += per {
		bs = append(bs, &Batch{Key: fmt.Sprintf("%s%d", prefix, i/per), Source: source, Events: events, Detections: ds[i:min(i+per, len(ds))]})
	}
	return bs
}

// all reads every page of q.
func all(t *testing.T, s *Store, q Query) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for pages := 0; ; pages++ {
		rows, next, err := s.Detections(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Limit > 0 && len(rows) > q.Limit {
			t.Fatalf("page of %d rows, limit %d", len(rows), q.Limit)
		}
		out = append(out, rows...)
		if next == "" {
			return out
		}
		if len(rows) == 0 || pages > 10000 {
			t.Fatalf("cursor %q with an empty page", next)
		}
		q.After = next
	}
}

func bodies(ds []Detection) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.JSON)
	}
	return out
}

func strs(rs []json.RawMessage) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: row %d differs:\n got %.200s\nwant %.200s", what, i, got[i], want[i])
		}
	}
}

func TestCommitAndQuery(t *testing.T) {
	ds := corpusDetections(t)
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		if s.Dialect() != b.name {
			t.Fatalf("Dialect() = %q, want %q", s.Dialect(), b.name)
		}
		bs := batches(ds, 5, 500, "http", "m")
		for _, bt := range bs {
			applied, err := s.CommitBatch(ctx, bt)
			if err != nil || !applied {
				t.Fatalf("CommitBatch(%s) = %v, %v", bt.Key, applied, err)
			}
		}
		// Redelivery of every message: nothing changes.
		for _, bt := range bs {
			applied, err := s.CommitBatch(ctx, bt)
			if err != nil || applied {
				t.Fatalf("second CommitBatch(%s) = %v, %v; want false, nil", bt.Key, applied, err)
			}
		}
		// A batch without detections still counts its events.
		if applied, err := s.CommitBatch(ctx, &Batch{Key: "empty", Source: "syslog", Events: 42}); err != nil || !applied {
			t.Fatalf("empty batch: %v, %v", applied, err)
		}

		equal(t, "all, default page", strs(all(t, s, Query{})), bodies(ds))
		equal(t, "all, pages of 7", strs(all(t, s, Query{Limit: 7})), bodies(ds))

		// Filters, against a filter over the input.
		pick := ds[len(ds)/2]
		filters := []struct {
			q    Query
			keep func(Detection) bool
		}{
			{Query{RuleID: pick.RuleID}, func(d Detection) bool { return d.RuleID == pick.RuleID }},
			{Query{Level: "high", Limit: 3}, func(d Detection) bool { return d.Level == "high" }},
			{Query{Computer: pick.Computer}, func(d Detection) bool { return d.Computer == pick.Computer }},
			{Query{Since: pick.Time}, func(d Detection) bool { return !d.Time.Before(pick.Time) }},
			{Query{Until: pick.Time, Limit: 10}, func(d Detection) bool { return d.Time.Before(pick.Time) }},
			{Query{Level: pick.Level, Since: pick.Time.Add(-24 * time.Hour), Until: pick.Time.Add(time.Nanosecond)}, func(d Detection) bool {
				return d.Level == pick.Level && !d.Time.Before(pick.Time.Add(-24*time.Hour)) && !d.Time.After(pick.Time)
			}},
		}
		for _, f := range filters {
			var want []Detection
			for _, d := range ds {
				if f.keep(d) {
					want = append(want, d)
				}
			}
			if len(want) == 0 || len(want) == len(ds) {
				t.Fatalf("filter %+v selects %d of %d: not a useful test", f.q, len(want), len(ds))
			}
			equal(t, fmt.Sprintf("filter %+v", f.q), strs(all(t, s, f.q)), bodies(want))
		}

		// Limits.
		rows, next, err := s.Detections(ctx, Query{Limit: 5000})
		if err != nil || len(rows) != min(MaxLimit, len(ds)) || (len(ds) > MaxLimit) != (next != "") {
			t.Fatalf("limit 5000: %d rows, next %q, %v", len(rows), next, err)
		}
		// Bad cursors.
		for _, c := range []string{"x", "!!!!", "AAAAAAAAAAAAAAAA", "gAAAAAAAAAA"} {
			if _, _, err := s.Detections(ctx, Query{After: c}); !errors.Is(err, ErrBadCursor) {
				t.Errorf("cursor %q: %v, want ErrBadCursor", c, err)
			}
		}

		// Tailing: Resume of the last page returns exactly what comes later.
		p, err := s.DetectionsPage(ctx, Query{RuleID: pick.RuleID})
		if err != nil || p.Next != "" || p.Resume == "" {
			t.Fatalf("page: %+v, %v", p, err)
		}
		p2, err := s.DetectionsPage(ctx, Query{RuleID: pick.RuleID, After: p.Resume})
		if err != nil || len(p2.Rows) != 0 || p2.Resume != p.Resume {
			t.Fatalf("tail before new rows: %d rows, resume %q (want %q), %v", len(p2.Rows), p2.Resume, p.Resume, err)
		}
		later := []Detection{pick, ds[0], pick}
		if _, err := s.CommitBatch(ctx, &Batch{Key: "later", Source: "http", Events: 3, Detections: later}); err != nil {
			t.Fatal(err)
		}
		p3, err := s.DetectionsPage(ctx, Query{RuleID: pick.RuleID, After: p.Resume})
		if err != nil || len(p3.Rows) != 2 || string(p3.Rows[0]) != string(pick.JSON) {
			t.Fatalf("tail after new rows: %d rows, %v", len(p3.Rows), err)
		}

		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantHTTP := SourceStats{Processed: int64(500*len(bs) + 3), Detections: int64(len(ds) + 3)}
		if st.Sources["http"] != wantHTTP || st.Sources["syslog"] != (SourceStats{Processed: 42}) ||
			st.Processed != wantHTTP.Processed+42 || st.Detections != wantHTTP.Detections {
			t.Fatalf("stats %+v, want http %+v, syslog processed 42", st, wantHTTP)
		}

		// Invalid input is refused without writing.
		if _, err := s.CommitBatch(ctx, &Batch{Key: "bad", Detections: []Detection{{RuleID: "r", JSON: []byte(`{"a":`)}}}); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
			t.Fatalf("invalid JSON: %v", err)
		}
		if applied, err := s.CommitBatch(ctx, &Batch{Key: "bad", Source: "x", Events: 1}); !applied || err != nil {
			t.Fatalf("key of a refused batch is not free: %v, %v", applied, err)
		}
		if _, err := s.CommitBatch(ctx, &Batch{}); err == nil {
			t.Fatal("empty key accepted")
		}
	})
}

// TestConcurrentCommitSameKey has two Stores (as two worker processes
// would) commit the same messages at the same time.
func TestConcurrentCommitSameKey(t *testing.T) {
	ds := corpusDetections(t)[:40]
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		stores := []*Store{b.open(t), b.open(t)}
		const keys, perStore = 30, 2
		applied := make([]int, keys)
		var mu sync.Mutex
		var wg sync.WaitGroup
		batch := func(k int) *Batch {
			return &Batch{Key: fmt.Sprintf("k%d", k), Source: "tcp", Events: 10, Detections: ds[k : k+4]}
		}
		for _, s := range stores {
			// Groups of messages in one transaction, overlapping the
			// other store's groups in a different order.
			wg.Go(func() {
				for g := 0; g < keys; g += 6 {
					var bs []*Batch
					for k := min(g+8, keys) - 1; k >= g; k-- {
						bs = append(bs, batch(k))
					}
					bs = append(bs, batch(g)) // repeated key: applies at most once
					ok, err := s.CommitBatches(ctx, bs)
					if err != nil {
						t.Error(err)
						return
					}
					if ok[len(bs)-1] {
						t.Errorf("repeated key %s applied twice in one call", bs[len(bs)-1].Key)
					}
					mu.Lock()
					for i, b := range bs {
						if ok[i] {
							var k int
							fmt.Sscanf(b.Key, "k%d", &k)
							applied[k]++
						}
					}
					mu.Unlock()
				}
			})
			for w := range perStore {
				wg.Go(func() {
					for k := range keys {
						k := (k + w*7) % keys
						ok, err := s.CommitBatch(ctx, batch(k))
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							mu.Lock()
							applied[k]++
							mu.Unlock()
						}
					}
				})
			}
		}
		wg.Wait()
		for k, n := range applied {
			if n != 1 {
				t.Errorf("key k%d applied %d times, want 1", k, n)
			}
		}
		got := all(t, stores[0], Query{Limit: 1000})
		if len(got) != keys*4 {
			t.Fatalf("%d detections stored, want %d", len(got), keys*4)
		}
		st, err := stores[1].Stats(ctx)
		if err != nil || st.Sources["tcp"] != (SourceStats{Processed: keys * 10, Detections: keys * 4}) {
			t.Fatalf("stats %+v, %v", st, err)
		}
	})
}

func TestTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		secret, tok, err := auth.NewToken("first admin", auth.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		_, tok2, _ := auth.NewToken("grafana", auth.RoleViewer)
		tok2.Created = tok.Created.Add(time.Second)
		if err := s.PutToken(ctx, tok2); err != nil {
			t.Fatal(err)
		}
		got, err := s.Token(ctx, tok.ID)
		if err != nil || got.ID != tok.ID || got.Name != tok.Name || got.Role != tok.Role || got.Hash != tok.Hash ||
			!got.Created.Equal(tok.Created) || !got.LastUsed.IsZero() || got.Revoked {
			t.Fatalf("Token = %+v, %v; want %+v", got, err, tok)
		}
		if _, err := s.Token(ctx, "nosuchtoken0"); !errors.Is(err, ErrNotFound) || !errors.Is(err, auth.ErrUnknownToken) {
			t.Fatalf("unknown token: %v", err)
		}
		if err := s.PutToken(ctx, auth.Token{ID: "x", Hash: "h", Role: "root"}); err == nil {
			t.Fatal("token with role root stored")
		}

		// The store serves as the Verifier's lookup.
		v := auth.NewVerifier(s.Token)
		if a, err := v.Authenticate(ctx, secret); err != nil || a.Role != auth.RoleAdmin {
			t.Fatalf("Authenticate = %+v, %v", a, err)
		}
		if _, err := v.Authenticate(ctx, "vgl_222222222222"+secret[16:]); !errors.Is(err, auth.ErrUnknownToken) {
			t.Fatalf("unknown id: %v", err)
		}

		used := time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
		if err := s.TouchToken(ctx, tok.ID, used); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchToken(ctx, tok.ID, used.Add(-time.Hour)); err != nil { // never backwards
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, "nosuchtoken0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("revoking unknown token: %v", err)
		}
		ts, err := s.Tokens(ctx)
		if err != nil || len(ts) != 2 || ts[0].ID != tok.ID || ts[1].ID != tok2.ID {
			t.Fatalf("Tokens = %+v, %v", ts, err)
		}
		if !ts[0].Revoked || !ts[0].LastUsed.Equal(used) || ts[1].Revoked || ts[1].Role != auth.RoleViewer {
			t.Fatalf("Tokens = %+v", ts)
		}
		v.Forget(tok.ID)
		if _, err := v.Authenticate(ctx, secret); !errors.Is(err, auth.ErrRevoked) {
			t.Fatalf("revoked: %v", err)
		}
	})
}

func TestRulesOffsetsCounters(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		for _, c := range []struct {
			id string
			on bool
		}{{"r1", false}, {"r2", false}, {"r1", false}, {"r2", true}, {"r3", true}} {
			if err := s.SetRuleEnabled(ctx, c.id, c.on); err != nil {
				t.Fatal(err)
			}
		}
		if d, err := s.DisabledRules(ctx); err != nil || len(d) != 1 || !d["r1"] {
			t.Fatalf("DisabledRules = %v, %v; want r1", d, err)
		}
		if off, err := s.Offset(ctx, "/var/log/syslog"); err != nil || off != 0 {
			t.Fatalf("unknown offset = %d, %v", off, err)
		}
		for _, off := range []int64{100, 1 << 40, 7} {
			if err := s.SetOffset(ctx, "/var/log/syslog", off); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Offset(ctx, "/var/log/syslog"); err != nil || got != off {
				t.Fatalf("Offset = %d, %v; want %d", got, err, off)
			}
		}
		for range 3 {
			if err := s.AddReceived(ctx, "udp", 10, 2); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.CommitBatch(ctx, &Batch{Key: "1", Source: "udp", Events: 8}); err != nil {
			t.Fatal(err)
		}
		st, err := s.Stats(ctx)
		if err != nil || st.Sources["udp"] != (SourceStats{Received: 30, Rejected: 6, Processed: 8}) {
			t.Fatalf("Stats = %+v, %v", st, err)
		}
	})
}

func TestPrune(t *testing.T) {
	ds := corpusDetections(t)[:30]
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		// Three batches of 10, stored a day apart.
		for i, bt := range batches(ds, 10, 100, "http", "d") {
			s.now = func() time.Time { return t0.Add(time.Duration(i) * 24 * time.Hour) }
			if _, err := s.CommitBatch(ctx, bt); err != nil {
				t.Fatal(err)
			}
		}
		now := t0.Add(2*24*time.Hour + time.Hour)
		if n, err := s.Prune(ctx, Retention{}, now); err != nil || n != 0 {
			t.Fatalf("unlimited prune deleted %d, %v", n, err)
		}
		// Markers older than 24h are gone: d0 and d1 are no longer recognised, d2 is.
		if ok, _ := s.CommitBatch(ctx, &Batch{Key: "d2", Source: "http"}); ok {
			t.Fatal("marker younger than MarkerRetention was pruned")
		}
		if ok, _ := s.CommitBatch(ctx, &Batch{Key: "d1", Source: "http"}); !ok {
			t.Fatal("marker older than MarkerRetention was kept")
		}
		equal(t, "after unlimited prune", strs(all(t, s, Query{})), bodies(ds))

		// Detections stored more than 36h before now: batch d0.
		if n, err := s.Prune(ctx, Retention{MaxAge: 36 * time.Hour}, now); err != nil || n != 10 {
			t.Fatalf("prune by age deleted %d, %v; want 10", n, err)
		}
		equal(t, "after prune by age", strs(all(t, s, Query{})), bodies(ds[10:]))
		if n, err := s.Prune(ctx, Retention{MaxDetections: 7}, now); err != nil || n != 13 {
			t.Fatalf("prune by count deleted %d, %v; want 13", n, err)
		}
		equal(t, "after prune by count", strs(all(t, s, Query{})), bodies(ds[23:]))
		// Counters are cumulative.
		if st, _ := s.Stats(ctx); st.Detections != 30 {
			t.Fatalf("stats after prune: %+v", st)
		}
		// Ids are not reused after everything was pruned: a tailing
		// cursor still sees new rows.
		p, _ := s.DetectionsPage(ctx, Query{})
		if n, err := s.Prune(ctx, Retention{MaxDetections: 1}, now); err != nil || n != 6 {
			t.Fatalf("prune to 1: %d, %v", n, err)
		}
		if _, err := s.Prune(ctx, Retention{MaxAge: time.Nanosecond}, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if rows := all(t, s, Query{}); len(rows) != 0 {
			t.Fatalf("%d rows left", len(rows))
		}
		if _, err := s.CommitBatch(ctx, &Batch{Key: "new", Source: "http", Detections: ds[:1]}); err != nil {
			t.Fatal(err)
		}
		if rows, _, err := s.Detections(ctx, Query{After: p.Resume}); err != nil || len(rows) != 1 {
			t.Fatalf("tail after pruning everything: %d rows, %v", len(rows), err)
		}
	})
}

func TestReopen(t *testing.T) {
	ds := corpusDetections(t)[:12]
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		if _, err := s.CommitBatch(ctx, &Batch{Key: "a", Source: "s", Events: 1, Detections: ds}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s2 := b.open(t) // migrations already applied: no-op
		equal(t, "after reopen", strs(all(t, s2, Query{})), bodies(ds))
		if ok, err := s2.CommitBatch(ctx, &Batch{Key: "a", Source: "s"}); ok || err != nil {
			t.Fatalf("marker lost on reopen: %v, %v", ok, err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range []struct{ url, dir, want string }{
		{"", "", "no database"},
		{"mysql://root:hunter2@db/vigil", dir, "unsupported database URL"},
		{"sqlite:", dir, "names no file"},
		{"sqlite:" + filepath.Join(dir, "missing", "x.db"), dir, "missing"},
		{"postgres://vigil:hunter2@127.0.0.1:1/vigil?connect_timeout=2", dir, "connecting to PostgreSQL at postgres://vigil:xxxxx@127.0.0.1:1/vigil"},
	} {
		s, err := Open(ctx, c.url, c.dir)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q, %q) succeeded", c.url, c.dir)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q): %v; want %q and no password", c.url, err, c.want)
		}
	}
	// A file that is not a database.
	bad := filepath.Join(dir, "not.db")
	if err := writeFile(bad, strings.Repeat("not a database\n", 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, "sqlite:"+bad, ""); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(not a database): %v", err)
	}
	// sqlite:PATH and the default both work, and the file is private.
	s, err := Open(ctx, "", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, err := statMode(filepath.Join(dir, "data", "vigil.db")); err != nil || fi&0o077 != 0 {
		t.Fatalf("vigil.db mode %v, %v", fi, err)
	}
}

// TestTailWhileCommitting follows the detections with Resume cursors while
// several committers write: the reader must see every row exactly once,
// which needs ids assigned in commit order.
func TestTailWhileCommitting(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := b.open(t)
		const writers, perWriter, perBatch = 3, 25, 3
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for k := range perWriter {
					bt := &Batch{Key: fmt.Sprintf("w%d-%d", w, k), Source: "t", Events: 1}
					for i := range perBatch {
						bt.Detections = append(bt.Detections, Detection{RuleID: "r", Level: "low", Computer: "c",
							JSON: fmt.Appendf(nil, `{"w":%d,"k":%d,"i":%d}`, w, k, i)})
					}
					if _, err := s.CommitBatch(ctx, bt); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		seen := map[string]bool{}
		resume := ""
		for finished := false; ; {
			select {
			case <-done:
				finished = true
			default:
			}
			p, err := s.DetectionsPage(ctx, Query{After: resume, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Rows {
				if seen[string(r)] {
					t.Fatalf("row %s seen twice", r)
				}
				seen[string(r)] = true
			}
			resume = p.Resume
			if finished && len(p.Rows) == 0 {
				break
			}
		}
		if len(seen) != writers*perWriter*perBatch {
			t.Fatalf("tailing saw %d rows, want %d", len(seen), writers*perWriter*perBatch)
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(12345))
	f.Add("")
	f.Add("AAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, c string) {
		id, err := decodeCursor(c)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("decodeCursor(%q): %v, not ErrBadCursor", c, err)
			}
			return
		}
		if id < 0 || (c != "" && encodeCursor(id) != c) {
			t.Fatalf("decodeCursor(%q) = %d, re-encodes as %q", c, id, encodeCursor(id))
		}
	})
}
