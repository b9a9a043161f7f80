package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-defense/vigil/internal/auth"
)

// Errors a caller branches on.
var (
	ErrNotFound  = errors.New("not found")
	ErrBadCursor = errors.New("bad cursor: pass the \"next\" value of a previous page unchanged")
)

// MarkerRetention is how long Prune keeps processed-batch markers: a queue
// message redelivered within this time is still recognised as committed.
// It must exceed the queue's redelivery horizon (JetStream redelivers an
// unacknowledged message after its ack wait, seconds to minutes).
const MarkerRetention = 24 * time.Hour

// Page sizes of Detections.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// insertChunk is the number of detections per multi-row INSERT (7
// parameters each, well below SQLite's and PostgreSQL's parameter limits).
const insertChunk = 100

// pgOrderLock is the key of the transaction-scoped advisory lock that makes
// PostgreSQL assign detection ids in commit order (see CommitBatch).
const pgOrderLock = 0x76696769 // "vigi"

func newStore(dialect string, w, r *sql.DB) *Store {
	return &Store{dialect: dialect, w: w, r: r, q: buildQueries(dialect), now: time.Now}
}

// queries are the statements, in the placeholder style of the dialect.
type queries struct {
	upsertProcessed, upsertReceived                         string
	disableRule, enableRule, disabledRules                  string
	putToken, token, tokens, revokeToken, touchToken        string
	offset, setOffset                                       string
	stats                                                   string
	pruneStored, pruneOldest, countDetections, pruneMarkers string
}

func buildQueries(dialect string) queries {
	q := queries{
		upsertProcessed: `INSERT INTO source_stats (source, processed, detections) VALUES (?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET processed = source_stats.processed + excluded.processed, detections = source_stats.detections + excluded.detections`,
		upsertReceived: `INSERT INTO source_stats (source, received, rejected) VALUES (?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET received = source_stats.received + excluded.received, rejected = source_stats.rejected + excluded.rejected`,
		disableRule:   `INSERT INTO disabled_rules (rule_id, disabled_at) VALUES (?, ?) ON CONFLICT (rule_id) DO NOTHING`,
		enableRule:    `DELETE FROM disabled_rules WHERE rule_id = ?`,
		disabledRules: `SELECT rule_id FROM disabled_rules`,
		putToken: `INSERT INTO tokens (id, name, role, hash, created, last_used, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, hash = excluded.hash,
			created = excluded.created, last_used = excluded.last_used, revoked = excluded.revoked`,
		token:           `SELECT id, name, role, hash, created, last_used, revoked FROM tokens WHERE id = ?`,
		tokens:          `SELECT id, name, role, hash, created, last_used, revoked FROM tokens ORDER BY created, id`,
		revokeToken:     `UPDATE tokens SET revoked = TRUE WHERE id = ?`,
		touchToken:      `UPDATE tokens SET last_used = ? WHERE id = ? AND last_used < ?`,
		offset:          `SELECT byte_offset FROM offsets WHERE key = ?`,
		setOffset:       `INSERT INTO offsets (key, byte_offset) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET byte_offset = excluded.byte_offset`,
		stats:           `SELECT source, received, rejected, processed, detections FROM source_stats`,
		pruneStored:     `DELETE FROM detections WHERE id IN (SELECT id FROM detections WHERE stored_at < ? ORDER BY id LIMIT ?)`,
		pruneOldest:     `DELETE FROM detections WHERE id IN (SELECT id FROM detections ORDER BY id LIMIT ?)`,
		countDetections: `SELECT count(*) FROM detections`,
		pruneMarkers:    `DELETE FROM processed_batches WHERE key IN (SELECT key FROM processed_batches WHERE committed_at < ? LIMIT ?)`,
	}
	if dialect == DialectPostgres {
		for _, p := range []*string{&q.upsertProcessed, &q.upsertReceived, &q.disableRule, &q.enableRule,
			&q.disabledRules, &q.putToken, &q.token, &q.tokens, &q.revokeToken, &q.touchToken, &q.offset, &q.setOffset,
			&q.stats, &q.pruneStored, &q.pruneOldest, &q.countDetections, &q.pruneMarkers} {
			*p = rebind(*p)
		}
	}
	return q
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, … (no query here
// has a ? inside a string literal).
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *Store) ph(n int) string {
	if s.dialect == DialectPostgres {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// nanos is t in Unix nanoseconds, clamped to the int64 range (years
// 1678–2262); the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if t.Before(time.Unix(0, math.MinInt64)) {
		return math.MinInt64
	}
	if t.After(time.Unix(0, math.MaxInt64)) {
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Detection is one detection to store.
type Detection struct {
	Time     time.Time // the event's time
	RuleID   string
	Level    string
	Computer string
	JSON     []byte // one line of vigil hunt --format jsonl, without the newline
}

// Batch is what a worker commits for one queue message.
type Batch struct {
	Key        string // unique per queue message (e.g. stream sequence)
	Source     string // the source tag of its events
	Events     int    // events in the message
	Detections []Detection
}

// CommitBatch stores a batch in one transaction: a processed marker with
// b.Key and, unless a marker with that key exists already, all its
// detections and the per-source counters. It returns applied=false, having
// written nothing, when the key was committed before (a redelivered queue
// message). Of two concurrent commits of one key exactly one applies; the
// other waits for it and returns applied=false (or applies, if the first
// rolled back).
//
// On PostgreSQL the detections are inserted under a transaction-scoped
// advisory lock, so ids are assigned in commit order and a client tailing
// Detections with a cursor never skips a row; on SQLite the single writer
// gives the same guarantee.
func (s *Store) CommitBatch(ctx context.Context, b *Batch) (applied bool, err error) {
	a, err := s.CommitBatches(ctx, []*Batch{b})
	if err != nil {
		return false, err
	}
	return a[0], nil
}

// CommitBatches is CommitBatch for several queue messages in one
// transaction (one disk sync instead of one per message): applied[i] says
// whether bs[i] was new. A key repeated within bs applies once, at its
// first occurrence. Either every new batch is stored or, on error, none.
// Markers are inserted in key order and counters in source order, so
// concurrent calls with overlapping keys wait for each other instead of
// deadlocking.
func (s *Store) CommitBatches(ctx context.Context, bs []*Batch) (applied []bool, err error) {
	var what string
	if len(bs) == 1 {
		what = fmt.Sprintf("commit batch %q", bs[0].Key)
	} else {
		what = fmt.Sprintf("commit %d batches", len(bs))
	}
	for _, b := range bs {
		if b.Key == "" {
			return nil, fmt.Errorf("%s: empty key", what)
		}
		if b.Events < 0 {
			return nil, fmt.Errorf("%s: batch %q: negative event count %d", what, b.Key, b.Events)
		}
		for i := range b.Detections {
			if !json.Valid(b.Detections[i].JSON) {
				return nil, fmt.Errorf("%s: batch %q: detection %d (rule %s) is not valid JSON", what, b.Key, i, b.Detections[i].RuleID)
			}
		}
	}
	applied = make([]bool, len(bs))
	// First occurrence of each key, in key order.
	order := make([]int, 0, len(bs))
	first := make(map[string]bool, len(bs))
	for i, b := range bs {
		if !first[b.Key] {
			first[b.Key] = true
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(bs[i].Key, bs[j].Key) })

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	now := nanos(s.now())
	inserted := make(map[string]bool, len(order))
	for start := 0; start < len(order); start += insertChunk {
		query, args := s.insertMarkers(bs, order[start:min(start+insertChunk, len(order))], now)
		rs, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("%s: markers: %w", what, err)
		}
		for rs.Next() {
			var k string
			if err := rs.Scan(&k); err != nil {
				rs.Close()
				return nil, fmt.Errorf("%s: markers: %w", what, err)
			}
			inserted[k] = true
		}
		if err := rs.Close(); err != nil {
			return nil, fmt.Errorf("%s: markers: %w", what, err)
		}
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("%s: markers: %w", what, err)
		}
	}
	if len(inserted) == 0 {
		return applied, nil // all redelivered: nothing to write
	}
	var dets []Detection
	type counts struct{ events, detections int64 }
	perSource := map[string]counts{}
	for _, i := range order {
		b := bs[i]
		if !inserted[b.Key] {
			continue
		}
		applied[i] = true
		dets = append(dets, b.Detections...)
		c := perSource[b.Source]
		c.events += int64(b.Events)
		c.detections += int64(len(b.Detections))
		perSource[b.Source] = c
	}
	if len(dets) > 0 {
		if s.dialect == DialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, pgOrderLock); err != nil {
				return nil, fmt.Errorf("%s: ordering lock: %w", what, err)
			}
		}
		for start := 0; start < len(dets); start += insertChunk {
			query, args := s.insertDetections(dets[start:min(start+insertChunk, len(dets))], now)
			if _, err := tx.ExecContext(ctx, query, args...); err != nil {
				return nil, fmt.Errorf("%s: detections: %w", what, err)
			}
		}
	}
	for _, src := range slices.Sorted(maps.Keys(perSource)) {
		c := perSource[src]
		if _, err := tx.ExecContext(ctx, s.q.upsertProcessed, src, c.events, c.detections); err != nil {
			return nil, fmt.Errorf("%s: counters: %w", what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	committed = true
	return applied, nil
}

func (s *Store) insertMarkers(bs []*Batch, idx []int, now int64) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO processed_batches (key, source, events, detections, committed_at) VALUES `)
	args := make([]any, 0, 5*len(idx))
	s.values(&b, len(idx), 5)
	for _, i := range idx {
		args = append(args, bs[i].Key, bs[i].Source, bs[i].Events, len(bs[i].Detections), now)
	}
	b.WriteString(` ON CONFLICT (key) DO NOTHING RETURNING key`)
	return b.String(), args
}

// values writes rows tuples of cols placeholders.
func (s *Store) values(b *strings.Builder, rows, cols int) {
	n := 0
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range cols {
			if j > 0 {
				b.WriteByte(',')
			}
			n++
			b.WriteString(s.ph(n))
		}
		b.WriteByte(')')
	}
}

func (s *Store) insertDetections(ds []Detection, storedAt int64) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO detections (time, rule_id, level, computer, stored_at, body) VALUES `)
	s.values(&b, len(ds), 6)
	args := make([]any, 0, 6*len(ds))
	for i := range ds {
		d := &ds[i]
		args = append(args, nanos(d.Time), d.RuleID, d.Level, d.Computer, storedAt, string(d.JSON))
	}
	return b.String(), args
}

// Query selects detections. Empty fields do not filter.
type Query struct {
	RuleID, Level, Computer string
	Since, Until            time.Time // on the detection's (event's) time: Since <= time < Until; zero = unbounded
	After                   string    // cursor from a previous page; "" = from the oldest stored detection
	Limit                   int       // rows per page: <= 0 means DefaultLimit, more than MaxLimit means MaxLimit
}

// Page is one page of detections.
type Page struct {
	Rows []json.RawMessage // in insertion order
	// Next is the cursor of the following page, "" when no further row
	// matches at this moment.
	Next string
	// Resume is the cursor after the last row of this page (q.After when
	// the page is empty): a client that tails polls with it later and gets
	// exactly the rows stored since.
	Resume string
}

// Detections returns the rows of one page of detections matching q and the
// cursor of the next page ("" when there is no further row at this moment).
func (s *Store) Detections(ctx context.Context, q Query) (rows []json.RawMessage, next string, err error) {
	p, err := s.DetectionsPage(ctx, q)
	return p.Rows, p.Next, err
}

// DetectionsPage is Detections with the Resume cursor for tailing.
func (s *Store) DetectionsPage(ctx context.Context, q Query) (Page, error) {
	after, err := decodeCursor(q.After)
	if err != nil {
		return Page{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var b strings.Builder
	args := []any{after}
	b.WriteString(`SELECT id, body FROM detections WHERE id > ` + s.ph(1))
	add := func(cond string, v any) {
		args = append(args, v)
		b.WriteString(" AND " + cond + " " + s.ph(len(args)))
	}
	if q.RuleID != "" {
		add("rule_id =", q.RuleID)
	}
	if q.Level != "" {
		add("level =", q.Level)
	}
	if q.Computer != "" {
		add("computer =", q.Computer)
	}
	if !q.Since.IsZero() {
		add("time >=", nanos(q.Since))
	}
	if !q.Until.IsZero() {
		add("time <", nanos(q.Until))
	}
	args = append(args, limit+1)
	b.WriteString(" ORDER BY id LIMIT " + s.ph(len(args)))

	rs, err := s.r.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return Page{}, fmt.Errorf("querying detections: %w", err)
	}
	defer rs.Close()
	p := Page{Resume: q.After}
	last := after
	for rs.Next() {
		if len(p.Rows) == limit {
			p.Next = encodeCursor(last)
			break
		}
		var id int64
		var body []byte
		if err := rs.Scan(&id, &body); err != nil {
			return Page{}, fmt.Errorf("reading detections: %w", err)
		}
		p.Rows = append(p.Rows, body)
		last = id
	}
	if err := rs.Err(); err != nil {
		return Page{}, fmt.Errorf("reading detections: %w", err)
	}
	if len(p.Rows) > 0 {
		p.Resume = encodeCursor(last)
	}
	return p, nil
}

// A cursor is the id of the last row returned: 8 bytes big-endian, base64url.
func encodeCursor(id int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil || len(b) != 8 || int64(binary.BigEndian.Uint64(b)) < 0 {
		return 0, fmt.Errorf("cursor %q: %w", c, ErrBadCursor)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// SourceStats are the cumulative counters of one source.
type SourceStats struct {
	Received, Rejected, Processed, Detections int64
}

// Stats are the cumulative counters of the store: Processed (events in
// committed batches) and Detections (stored, including those pruned since)
// in total and per source.
type Stats struct {
	Processed, Detections int64
	Sources               map[string]SourceStats
}

// AddReceived adds to the received and rejected counters of a source.
func (s *Store) AddReceived(ctx context.Context, source string, received, rejected int64) error {
	if _, err := s.w.ExecContext(ctx, s.q.upsertReceived, source, received, rejected); err != nil {
		return fmt.Errorf("counting received events of %q: %w", source, err)
	}
	return nil
}

// Stats returns the counters.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	rs, err := s.r.QueryContext(ctx, s.q.stats)
	if err != nil {
		return Stats{}, fmt.Errorf("reading stats: %w", err)
	}
	defer rs.Close()
	st := Stats{Sources: map[string]SourceStats{}}
	for rs.Next() {
		var src string
		var ss SourceStats
		if err := rs.Scan(&src, &ss.Received, &ss.Rejected, &ss.Processed, &ss.Detections); err != nil {
			return Stats{}, fmt.Errorf("reading stats: %w", err)
		}
		st.Sources[src] = ss
		st.Processed += ss.Processed
		st.Detections += ss.Detections
	}
	if err := rs.Err(); err != nil {
		return Stats{}, fmt.Errorf("reading stats: %w", err)
	}
	return st, nil
}

// SetRuleEnabled enables or disables a rule by id. Rules are enabled unless
// disabled here; the store does not check that the id names a loaded rule.
func (s *Store) SetRuleEnabled(ctx context.Context, ruleID string, enabled bool) error {
	if ruleID == "" {
		return errors.New("set rule state: empty rule id")
	}
	var err error
	if enabled {
		_, err = s.w.ExecContext(ctx, s.q.enableRule, ruleID)
	} else {
		_, err = s.w.ExecContext(ctx, s.q.disableRule, ruleID, nanos(s.now()))
	}
	if err != nil {
		return fmt.Errorf("setting state of rule %s: %w", ruleID, err)
	}
	return nil
}

// DisabledRules returns the ids of the disabled rules.
func (s *Store) DisabledRules(ctx context.Context) (map[string]bool, error) {
	rs, err := s.r.QueryContext(ctx, s.q.disabledRules)
	if err != nil {
		return nil, fmt.Errorf("reading disabled rules: %w", err)
	}
	defer rs.Close()
	m := map[string]bool{}
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("reading disabled rules: %w", err)
		}
		m[id] = true
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading disabled rules: %w", err)
	}
	return m, nil
}

// tokenNotFound matches both ErrNotFound and auth.ErrUnknownToken, so that
// Store.Token can serve as an auth.Lookup directly.
type tokenNotFound struct{ id string }

func (e tokenNotFound) Error() string { return "token " + e.id + ": not found" }
func (e tokenNotFound) Is(target error) bool {
	return target == ErrNotFound || target == auth.ErrUnknownToken
}

var _ auth.Lookup = (*Store)(nil).Token

// PutToken stores t, replacing a token with the same id.
func (s *Store) PutToken(ctx context.Context, t auth.Token) error {
	if t.ID == "" || t.Hash == "" {
		return fmt.Errorf("store token %q: id and hash are required", t.Name)
	}
	if !t.Role.Valid() {
		return fmt.Errorf("store token %s: unknown role %q", t.ID, t.Role)
	}
	if _, err := s.w.ExecContext(ctx, s.q.putToken, t.ID, t.Name, string(t.Role), t.Hash, nanos(t.Created), nanos(t.LastUsed), t.Revoked); err != nil {
		return fmt.Errorf("store token %s: %w", t.ID, err)
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanToken(r scanner) (auth.Token, error) {
	var t auth.Token
	var role string
	var created, lastUsed int64
	if err := r.Scan(&t.ID, &t.Name, &role, &t.Hash, &created, &lastUsed, &t.Revoked); err != nil {
		return auth.Token{}, err
	}
	t.Role, t.Created, t.LastUsed = auth.Role(role), fromNanos(created), fromNanos(lastUsed)
	return t, nil
}

// Token returns the token with the given id; the error matches ErrNotFound
// and auth.ErrUnknownToken when there is none.
func (s *Store) Token(ctx context.Context, id string) (auth.Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, s.q.token, id))
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Token{}, tokenNotFound{id}
	}
	if err != nil {
		return auth.Token{}, fmt.Errorf("reading token %s: %w", id, err)
	}
	return t, nil
}

// Tokens returns all tokens, revoked ones included, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]auth.Token, error) {
	rs, err := s.r.QueryContext(ctx, s.q.tokens)
	if err != nil {
		return nil, fmt.Errorf("reading tokens: %w", err)
	}
	defer rs.Close()
	var ts []auth.Token
	for rs.Next() {
		t, err := scanToken(rs)
		if err != nil {
			return nil, fmt.Errorf("reading tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading tokens: %w", err)
	}
	return ts, nil
}

// RevokeToken marks a token revoked (it stays listed); ErrNotFound when
// there is no such token.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, s.q.revokeToken, id)
	if err != nil {
		return fmt.Errorf("revoking token %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return tokenNotFound{id}
	}
	return nil
}

// TouchToken records that a token was used at t. It never moves LastUsed
// backwards, and does nothing for an unknown id.
func (s *Store) TouchToken(ctx context.Context, id string, t time.Time) error {
	n := nanos(t)
	if _, err := s.w.ExecContext(ctx, s.q.touchToken, n, id, n); err != nil {
		return fmt.Errorf("recording use of token %s: %w", id, err)
	}
	return nil
}

// Offset returns the stored offset for key (a tailed file), 0 when unknown.
func (s *Store) Offset(ctx context.Context, key string) (int64, error) {
	var off int64
	err := s.r.QueryRowContext(ctx, s.q.offset, key).Scan(&off)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading offset of %s: %w", key, err)
	}
	return off, nil
}

// SetOffset stores the offset for key.
func (s *Store) SetOffset(ctx context.Context, key string, off int64) error {
	if _, err := s.w.ExecContext(ctx, s.q.setOffset, key, off); err != nil {
		return fmt.Errorf("storing offset of %s: %w", key, err)
	}
	return nil
}

// Retention limits stored detections; zero fields are unlimited.
type Retention struct {
	MaxAge        time.Duration // on the time a detection was stored (not the event's time: old logs ingested today stay)
	MaxDetections int64         // keep at most this many, the newest
}

// pruneChunk is the number of rows per DELETE: each chunk is its own short
// transaction, so pruning does not hold SQLite's write lock for long.
const pruneChunk = 5000

// Prune deletes detections stored more than r.MaxAge before now and the
// oldest beyond the newest r.MaxDetections, and processed markers older
// than MarkerRetention (always, whatever r says). It returns the number of
// detections deleted. Counters (Stats) are not lowered.
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time) (deleted int64, err error) {
	loop := func(what, query string, args ...any) (int64, error) {
		var total int64
		for {
			res, err := s.w.ExecContext(ctx, query, append(args, pruneChunk)...)
			if err != nil {
				return total, fmt.Errorf("pruning %s: %w", what, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("pruning %s: %w", what, err)
			}
			total += n
			if n < pruneChunk {
				return total, nil
			}
		}
	}
	if r.MaxAge > 0 {
		n, err := loop("detections by age", s.q.pruneStored, nanos(now.Add(-r.MaxAge)))
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	if r.MaxDetections > 0 {
		var count int64
		if err := s.w.QueryRowContext(ctx, s.q.countDetections).Scan(&count); err != nil {
			return deleted, fmt.Errorf("pruning detections by count: %w", err)
		}
		for excess := count - r.MaxDetections; excess > 0; {
			res, err := s.w.ExecContext(ctx, s.q.pruneOldest, min(excess, pruneChunk))
			if err != nil {
				return deleted, fmt.Errorf("pruning detections by count: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return deleted, fmt.Errorf("pruning detections by count: %w", err)
			}
			deleted += n
			excess -= n
			if n == 0 {
				break
			}
		}
	}
	if _, err := loop("processed markers", s.q.pruneMarkers, nanos(now.Add(-MarkerRetention))); err != nil {
		return deleted, err
	}
	return deleted, nil
}
