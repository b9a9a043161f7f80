package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// The dialects, as Dialect returns them.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Store is vigil serve's database: detections, idempotency markers, counters,
// rule state, tokens and tail offsets. It is safe for concurrent use.
type Store struct {
	dialect string
	w       *sql.DB // writes (SQLite: one connection)
	r       *sql.DB // reads (SQLite: a pool of read-only connections; PostgreSQL: same as w)
	q       queries
	now     func() time.Time
}

// SQLite connection settings. WAL lets readers run beside the one writer.
// synchronous=FULL makes every commit durable on disk before CommitBatch
// returns, so a queue message acknowledged after CommitBatch survives not
// only kill -9 (for which NORMAL would do) but also a power cut or kernel
// crash. busy_timeout covers other processes (vigil token create) writing
// the same file. _txlock=immediate takes the write lock at BEGIN, so a
// transaction never fails halfway on a lock upgrade.
const (
	sqliteWriterParams = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"
	sqliteReaderParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
	sqliteReaders      = 4
	postgresConns      = 16
)

// Open opens (creating if needed) the store named by dbURL and brings its
// schema up to date:
//
//	""                                  SQLite file dataDir/vigil.db (dataDir is created, mode 0700)
//	"sqlite:PATH" or "sqlite://PATH"    SQLite file PATH
//	"postgres://…", "postgresql://…"    PostgreSQL (any pgx connection URL)
func Open(ctx context.Context, dbURL, dataDir string) (*Store, error) {
	switch {
	case dbURL == "":
		if dataDir == "" {
			return nil, errors.New("no database: give a data directory (the database is DATA-DIR/vigil.db) or a database URL (sqlite:PATH or postgres://…)")
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		return openSQLite(ctx, filepath.Join(dataDir, "vigil.db"))
	case strings.HasPrefix(dbURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		if path == "" {
			return nil, fmt.Errorf("database URL %q names no file: use sqlite:PATH, e.g. sqlite:/var/lib/vigil/vigil.db", dbURL)
		}
		return openSQLite(ctx, path)
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return openPostgres(ctx, dbURL)
	}
	return nil, fmt.Errorf("unsupported database URL %q: use postgres://USER:PASSWORD@HOST:PORT/DATABASE, sqlite:PATH, or none for DATA-DIR/vigil.db", redact(dbURL))
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite database %q: the path must not contain '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("sqlite database %s: directory %s: %w", path, dir, err)
		}
	}
	// Create the file ourselves so it (and the -wal/-shm files SQLite
	// derives from it) is readable by the owner only: it holds token hashes
	// and detections.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite database: %w", err)
	}
	f.Close()

	w, err := sql.Open("sqlite", path+"?"+sqliteWriterParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite database %s: %w (is it a SQLite file, and writable?)", path, err)
	}
	if err := migrate(ctx, w, DialectSQLite, path); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", path+"?"+sqliteReaderParams)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	r.SetMaxOpenConns(sqliteReaders)
	r.SetMaxIdleConns(sqliteReaders)
	return newStore(DialectSQLite, w, r), nil
}

func openPostgres(ctx context.Context, dbURL string) (*Store, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", redact(dbURL), err)
	}
	db.SetMaxOpenConns(postgresConns)
	db.SetMaxIdleConns(postgresConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to PostgreSQL at %s: %w (is the server running and reachable, and are user, password and database in the URL right?)", redact(dbURL), err)
	}
	if err := migrate(ctx, db, DialectPostgres, redact(dbURL)); err != nil {
		db.Close()
		return nil, err
	}
	return newStore(DialectPostgres, db, db), nil
}

// migrate applies the embedded migrations of the dialect. On PostgreSQL a
// session advisory lock lets several vigil processes start at once.
func migrate(ctx context.Context, db *sql.DB, dialect, where string) error {
	sub, err := fs.Sub(migrations, "migrations/"+dialect)
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if dialect == DialectPostgres {
		gd = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("database %s: loading schema migrations: %w", where, err)
	}
	if _, err := p.Up(ctx); err != nil {
		var pe *goose.PartialError
		if errors.As(err, &pe) && pe.Failed != nil && pe.Failed.Source != nil {
			return fmt.Errorf("database %s: schema migration %d (%s) failed: %w; the schema is left at the last migration before it; fix the cause (permissions? a database written by a newer vigil?) and start again",
				where, pe.Failed.Source.Version, filepath.Base(pe.Failed.Source.Path), pe.Err)
		}
		return fmt.Errorf("database %s: applying schema migrations: %w", where, err)
	}
	return nil
}

// redact hides the password of a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Close closes the database connections.
func (s *Store) Close() error {
	var err error
	if s.r != s.w {
		err = s.r.Close()
	}
	return errors.Join(err, s.w.Close())
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }
