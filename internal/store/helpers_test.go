package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// postgresEnv names the variable holding a PostgreSQL URL for the tests.
const postgresEnv = "VIGIL_TEST_POSTGRES"

// backend is one database to run a test on: Open(ctx, url, dir) opens it,
// as often as the test likes.
type backend struct {
	name, url, dir string
}

func (b backend) open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), b.url, b.dir)
	if err != nil {
		t.Fatalf("%s: Open: %v", b.name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachBackend runs f on a fresh SQLite database and, when VIGIL_TEST_POSTGRES
// is set, on a fresh schema of that PostgreSQL database.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, backend{name: "sqlite", dir: t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, postgresBackend(t))
	})
}

// postgresBackend makes a schema of its own for the test (dropped at the
// end) and returns a URL whose search_path points at it.
func postgresBackend(t testing.TB) backend {
	t.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a database URL (e.g. postgres://postgres@127.0.0.1:5432/vigil_test?sslmode=disable)", postgresEnv)
	}
	var r [6]byte
	rand.Read(r[:])
	schema := "vigil_test_" + hex.EncodeToString(r[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("%s: creating schema: %v", postgresEnv, err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return backend{name: "postgres", url: u.String()}
}

// corpusDetections builds detections from the Sigma regression data of the
// shared corpus: each event file of a rule becomes a detection of that rule
// whose body is a hunt-jsonl-like line holding the real event.
func corpusDetections(t testing.TB) []Detection {
	t.Helper()
	root := filepath.Join("..", "..", "..", "shared", "corpus", "sigma")
	if _, err := os.Stat(filepath.Join(root, "regression_data")); err != nil {
		t.Skipf("needs the shared corpus at %s: %v", root, err)
	}
	var ds []Detection
	err := filepath.WalkDir(filepath.Join(root, "regression_data"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var ev struct {
			Event struct {
				System struct {
					Computer    string
					TimeCreated struct {
						Attributes struct{ SystemTime string } `json:"#attributes"`
					}
				}
			}
		}
		if json.Unmarshal(raw, &ev) != nil {
			return nil
		}
		ruleID := strings.TrimSuffix(filepath.Base(path), ".json")
		rel, _ := filepath.Rel(filepath.Join(root, "regression_data"), filepath.Dir(path))
		title, level := ruleMeta(filepath.Join(root, rel+".yml"))
		tm, _ := time.Parse(time.RFC3339Nano, ev.Event.System.TimeCreated.Attributes.SystemTime)
		var compact bytes.Buffer
		if json.Compact(&compact, raw) != nil {
			return nil
		}
		line, err := json.Marshal(map[string]any{
			"time": tm, "rule_id": ruleID, "rule": title, "level": level,
			"computer": ev.Event.System.Computer, "event": json.RawMessage(compact.Bytes()),
		})
		if err != nil {
			return err
		}
		ds = append(ds, Detection{Time: tm, RuleID: ruleID, Level: level, Computer: ev.Event.System.Computer, JSON: line})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 50 {
		t.Fatalf("only %d detections from %s", len(ds), root)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].RuleID < ds[j].RuleID })
	return ds
}

// ruleMeta reads title and level from a Sigma rule file ("" when absent).
func ruleMeta(path string) (title, level string) {
	f, err := os.Open(path)
	if err != nil {
		return "", "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	level = "unknown"
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "title: "); ok {
			title = v
		}
		if v, ok := strings.CutPrefix(line, "level: "); ok {
			level = strings.TrimSpace(v)
		}
	}
	return title, level
}
