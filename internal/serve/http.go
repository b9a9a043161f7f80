package serve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-defense/vigil/internal/auth"
	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/source"
	"github.com/vigil-defense/vigil/internal/store"
)

// Limits of the HTTP API.
const (
	defaultMaxBody    = 64 << 20  // bytes of an events request as sent (compressed or not)
	maxInflated       = 256 << 20 // bytes of an events request after gzip
	maxLine           = 8 << 20   // one NDJSON record
	maxAPIBody        = 1 << 20   // bodies of the other routes
	maxReportedErrors = 20
)

type ctxKey int

const tokenKey ctxKey = 0

// tokenOf returns the authenticated token of a request.
func tokenOf(r *http.Request) auth.Token {
	t, _ := r.Context().Value(tokenKey).(auth.Token)
	return t
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...)})
}

// statusRecorder keeps the status code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// authenticator is what the middleware needs of token verification.
type authenticator interface {
	Authenticate(ctx context.Context, secret string) (auth.Token, error)
}

// guard wraps h: the request must carry "Authorization: Bearer TOKEN" of a
// token whose role allows need. Missing or wrong tokens get 401, a token
// without the role 403. route names the route in metrics.
func (s *Server) guard(route string, need auth.Role, h http.HandlerFunc) http.HandlerFunc {
	return s.count(route, func(w http.ResponseWriter, r *http.Request) {
		hdr := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(hdr, "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			fail(w, http.StatusUnauthorized, "missing token: send the header 'Authorization: Bearer TOKEN' (the first admin token is in admin.token in the data directory; 'vigil token create' makes more)")
			return
		}
		tok, err := s.auth.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil", error="invalid_token"`)
			switch {
			case errors.Is(err, auth.ErrRevoked):
				fail(w, http.StatusUnauthorized, "token revoked")
			case errors.Is(err, auth.ErrMalformed), errors.Is(err, auth.ErrUnknownToken), errors.Is(err, auth.ErrWrongSecret):
				fail(w, http.StatusUnauthorized, "invalid token")
			default:
				s.log.Error("token check failed", "error", err)
				fail(w, http.StatusServiceUnavailable, "cannot check the token now; retry later")
			}
			return
		}
		if !tok.Role.Allows(need) {
			fail(w, http.StatusForbidden, "token %q has role %s; this needs %s", tok.Name, tok.Role, need)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), tokenKey, tok)))
	})
}

// count records the status of every request of a route.
func (s *Server) count(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic in HTTP handler", "route", route, "panic", fmt.Sprint(v))
				if rec.code == http.StatusOK {
					fail(rec, http.StatusInternalServerError, "internal error")
				}
			}
			s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		}()
		h(rec, r)
	}
}

// ingestResult is the answer to POST /api/v1/events.
type ingestResult struct {
	Accepted int           `json:"accepted"`
	Rejected int           `json:"rejected"`
	Errors   []recordError `json:"errors,omitempty"`
	Error    string        `json:"error,omitempty"`
}

type recordError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// ingestState is what one events request works with, pooled so that the
// buffers of a request's batch and event are reused by the next.
type ingestState struct {
	dec *source.Decoder
	ev  event.Event
	bb  batchBuilder
	br  *bufio.Reader
}

var ingestStates = sync.Pool{New: func() any { return &ingestState{dec: source.NewDecoder(), br: bufio.NewReaderSize(nil, 64<<10)} }}

// handleEvents takes NDJSON events (flat JSON, evtx_dump layout, Winlogbeat;
// optionally gzip), queues them durably and answers 202 with the number
// accepted. With an Idempotency-Key header a retried request is queued
// once.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	tok := tokenOf(r)
	const src = "http"
	if r.ContentLength > s.opts.MaxBody {
		s.metrics.rejected.WithLabelValues(src, "too-large").Inc()
		fail(w, http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than %d MiB: nothing was queued; send smaller requests", r.ContentLength, s.opts.MaxBody>>20)
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	ist := ingestStates.Get().(*ingestState)
	defer func() {
		ist.bb.reset()
		ist.br.Reset(nil)
		ingestStates.Put(ist)
	}()
	br := ist.br
	br.Reset(body)
	head, _ := br.Peek(2)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") || source.IsGzip(head) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			s.metrics.rejected.WithLabelValues(src, "bad-gzip").Inc()
			fail(w, http.StatusBadRequest, "body is not valid gzip: %v", err)
			return
		}
		defer zr.Close()
		br = bufio.NewReaderSize(io.LimitReader(zr, maxInflated+1), 64<<10)
	}
	idem := r.Header.Get("Idempotency-Key")
	if len(idem) > 200 {
		fail(w, http.StatusBadRequest, "Idempotency-Key longer than 200 characters")
		return
	}
	var idBase string
	if idem != "" {
		h := sha256.Sum256([]byte(tok.ID + "\x00" + idem))
		idBase = "http-" + hex.EncodeToString(h[:16]) + "-"
	}
	dec := ist.dec
	bb := &ist.bb
	ev := &ist.ev
	evSource := "http/" + tok.Name
	var (
		res     ingestResult
		part    int
		line    int
		inflate int64
		pubErr  error
	)
	publish := func() bool {
		if bb.events == 0 {
			return true
		}
		id := idBase + strconv.Itoa(part)
		if idBase == "" {
			id = newID("http-")
		}
		part++
		err := s.pub.Publish(r.Context(), &bus.Batch{ID: id, Source: src, Events: bb.events, Received: bb.received, Data: bb.data})
		if err != nil {
			pubErr = err
			return false
		}
		res.Accepted += bb.events
		bb.reset()
		return true
	}
	reject := func(line int, err error) {
		res.Rejected++
		if len(res.Errors) < maxReportedErrors {
			res.Errors = append(res.Errors, recordError{Line: line, Error: err.Error()})
		}
	}
	var readErr error
	for pubErr == nil {
		rec, tooLong, err := readLine(br, maxLine)
		if len(rec) > 0 || tooLong {
			line++
			inflate += int64(len(rec))
		}
		if tooLong {
			reject(line, fmt.Errorf("record longer than %d MiB; skipped", maxLine>>20))
		} else if rec = bytes.TrimSpace(rec); len(rec) > 0 {
			_, derr := dec.Record(rec, evSource, line, -1, ev, func(ev *event.Event) {
				for pubErr == nil {
					ok, aerr := bb.add(ev, time.Now())
					if aerr != nil {
						reject(line, aerr)
						return
					}
					if ok {
						return
					}
					publish()
				}
			})
			if derr != nil {
				var je *source.JSONError
				if errors.As(derr, &je) {
					derr = errors.New(je.Reason)
				}
				reject(line, derr)
			}
		}
		if err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
	}
	if pubErr == nil {
		publish()
	}
	s.metrics.received.WithLabelValues(src).Add(float64(res.Accepted))
	if res.Rejected > 0 {
		s.metrics.rejected.WithLabelValues(src, "bad-record").Add(float64(res.Rejected))
	}
	s.counts.add(src, int64(res.Accepted), int64(res.Rejected))
	var maxErr *http.MaxBytesError
	switch {
	case pubErr != nil && errors.Is(pubErr, bus.ErrFull):
		w.Header().Set("Retry-After", "1")
		res.Error = "event queue is full (detection is behind): the events not counted in accepted were not queued; retry them later (with the same Idempotency-Key, the whole request)"
		writeJSON(w, http.StatusServiceUnavailable, res)
	case pubErr != nil:
		s.log.Error("queueing events failed", "error", pubErr)
		res.Error = "queueing events failed; the events not counted in accepted were not queued: retry"
		writeJSON(w, http.StatusServiceUnavailable, res)
	case errors.As(readErr, &maxErr):
		s.metrics.rejected.WithLabelValues(src, "too-large").Inc()
		res.Error = fmt.Sprintf("request body larger than %d MiB: events after that point were not read; send smaller requests", s.opts.MaxBody>>20)
		writeJSON(w, http.StatusRequestEntityTooLarge, res)
	case readErr != nil:
		res.Error = "reading the request body failed: " + readErr.Error()
		writeJSON(w, http.StatusBadRequest, res)
	case inflate > maxInflated:
		res.Error = fmt.Sprintf("request body larger than %d MiB after decompression: events after that point were not read", maxInflated>>20)
		writeJSON(w, http.StatusRequestEntityTooLarge, res)
	case res.Accepted == 0 && res.Rejected == 0:
		res.Error = "no events in the body: send one JSON object per line (NDJSON)"
		writeJSON(w, http.StatusBadRequest, res)
	case res.Accepted == 0:
		res.Error = "no valid event in the body"
		writeJSON(w, http.StatusBadRequest, res)
	default:
		writeJSON(w, http.StatusAccepted, res)
	}
}

// readLine returns the next line without its end; a line longer than max
// is consumed and reported with tooLong.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > max {
			tooLong = true
			buf = buf[:0]
		} else if !tooLong {
			if buf == nil && err == nil {
				return chunk, false, nil
			}
			buf = append(buf, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		return buf, false, err
	}
}

// handleDetections answers GET /api/v1/detections.
func (s *Server) handleDetections(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := store.Query{
		RuleID:   q.Get("rule_id"),
		Level:    q.Get("level"),
		Computer: q.Get("computer"),
		After:    q.Get("cursor"),
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &query.Since}, {"until", &query.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				fail(w, http.StatusBadRequest, "%s=%q is not an RFC 3339 time such as 2024-05-06T07:08:09Z", p.name, v)
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			fail(w, http.StatusBadRequest, "limit=%q: give a number from 1 to 1000", v)
			return
		}
		query.Limit = n
	}
	rows, next, err := s.store.Detections(r.Context(), query)
	if err != nil {
		if errors.Is(err, store.ErrBadCursor) {
			fail(w, http.StatusBadRequest, "cursor=%q is not a cursor this server gave: start without one", query.After)
			return
		}
		s.log.Error("reading detections failed", "error", err)
		fail(w, http.StatusInternalServerError, "reading detections failed")
		return
	}
	if rows == nil {
		rows = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, struct {
		Detections []json.RawMessage `json:"detections"`
		Next       string            `json:"next"`
	}{rows, next})
}

// statsAnswer is the body of GET /api/v1/stats.
type statsAnswer struct {
	Received   int64                  `json:"received"`
	Rejected   int64                  `json:"rejected"`
	Processed  int64                  `json:"processed"`
	Queued     int64                  `json:"queued"` // batches waiting or in flight
	Detections int64                  `json:"detections"`
	Sources    map[string]sourceStats `json:"sources"`
}

// sourceStats are one source's counters in GET /api/v1/stats.
type sourceStats struct {
	Received   int64 `json:"received"`
	Rejected   int64 `json:"rejected"`
	Processed  int64 `json:"processed"`
	Detections int64 `json:"detections"`
}

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) {
	s.counts.flush(r.Context(), s.store, s.log)
	st, err := s.store.Stats(r.Context())
	if err != nil {
		s.log.Error("reading stats failed", "error", err)
		fail(w, http.StatusInternalServerError, "reading stats failed")
		return
	}
	a := statsAnswer{Processed: st.Processed, Detections: st.Detections, Sources: map[string]sourceStats{}}
	for name, ss := range st.Sources {
		a.Received += ss.Received
		a.Rejected += ss.Rejected
		a.Sources[name] = sourceStats{Received: ss.Received, Rejected: ss.Rejected, Processed: ss.Processed, Detections: ss.Detections}
	}
	if s.bus != nil {
		if wt, fl, err := s.bus.Pending(r.Context()); err == nil {
			a.Queued = int64(wt + fl)
		}
	}
	writeJSON(w, http.StatusOK, a)
}

// ruleInfo is one rule in GET /api/v1/rules.
type ruleInfo struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Level   string   `json:"level"`
	Status  string   `json:"status"`
	Author  string   `json:"author"`
	Tags    []string `json:"tags"`
	Path    string   `json:"path"`
	Enabled bool     `json:"enabled"`
}

func (s *Server) rules(ctx context.Context) ([]ruleInfo, error) {
	disabled, err := s.store.DisabledRules(ctx)
	if err != nil {
		return nil, err
	}
	var out []ruleInfo
	for _, p := range s.opts.Engine.Programs() {
		r := p.Rule
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		out = append(out, ruleInfo{ID: r.ID, Title: r.Title, Level: r.Level, Status: r.Status, Author: r.Author, Tags: tags, Path: p.Path, Enabled: !disabled[r.ID]})
	}
	return out, nil
}

func (s *Server) handleRules(w http.ResponseWriter, r *http.Request) {
	rules, err := s.rules(r.Context())
	if err != nil {
		s.log.Error("reading rule states failed", "error", err)
		fail(w, http.StatusInternalServerError, "reading rule states failed")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Rules []ruleInfo `json:"rules"`
	}{rules})
}

// handleRuleUpdate answers PATCH /api/v1/rules/{id} {"enabled": bool}.
func (s *Server) handleRuleUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if err := decodeBody(r, &body); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if body.Enabled == nil {
		fail(w, http.StatusBadRequest, `body must be {"enabled": true} or {"enabled": false}`)
		return
	}
	rules, err := s.rules(r.Context())
	if err != nil {
		fail(w, http.StatusInternalServerError, "reading rule states failed")
		return
	}
	for _, ri := range rules {
		if ri.ID != id {
			continue
		}
		if err := s.store.SetRuleEnabled(r.Context(), id, *body.Enabled); err != nil {
			s.log.Error("changing a rule failed", "rule", id, "error", err)
			fail(w, http.StatusInternalServerError, "changing the rule failed")
			return
		}
		ri.Enabled = *body.Enabled
		s.log.Info("rule changed", "rule", id, "enabled", ri.Enabled, "by", tokenOf(r).Name)
		writeJSON(w, http.StatusOK, ri)
		return
	}
	fail(w, http.StatusNotFound, "no loaded rule has id %q: GET /api/v1/rules lists them", id)
}

// decodeBody reads a JSON body of at most maxAPIBody bytes, refusing
// unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body is not the expected JSON: %v", err)
	}
	return nil
}

// tokenInfo is a token as the API shows it (never its secret or hash).
type tokenInfo struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Role     auth.Role  `json:"role"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Revoked  bool       `json:"revoked"`
}

func infoOf(t auth.Token) tokenInfo {
	ti := tokenInfo{ID: t.ID, Name: t.Name, Role: t.Role, Created: t.Created.UTC(), Revoked: t.Revoked}
	if !t.LastUsed.IsZero() {
		lu := t.LastUsed.UTC()
		ti.LastUsed = &lu
	}
	return ti
}

func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request) {
	toks, err := s.store.Tokens(r.Context())
	if err != nil {
		fail(w, http.StatusInternalServerError, "reading tokens failed")
		return
	}
	out := []tokenInfo{}
	for _, t := range toks {
		out = append(out, infoOf(t))
	}
	writeJSON(w, http.StatusOK, struct {
		Tokens []tokenInfo `json:"tokens"`
	}{out})
}

func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if err := decodeBody(r, &body); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	role, err := auth.ParseRole(body.Role)
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if body.Name == "" || len(body.Name) > 100 {
		fail(w, http.StatusBadRequest, "name must be 1 to 100 characters")
		return
	}
	secret, t, err := auth.NewToken(body.Name, role)
	if err == nil {
		err = s.store.PutToken(r.Context(), t)
	}
	if err != nil {
		s.log.Error("creating a token failed", "error", err)
		fail(w, http.StatusInternalServerError, "creating the token failed")
		return
	}
	s.log.Info("token created", "id", t.ID, "name", t.Name, "role", t.Role, "by", tokenOf(r).Name)
	writeJSON(w, http.StatusCreated, struct {
		tokenInfo
		Token string `json:"token"`
	}{infoOf(t), secret})
}

func (s *Server) handleTokenRevoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.store.Token(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			fail(w, http.StatusNotFound, "no token has id %q", id)
			return
		}
		fail(w, http.StatusInternalServerError, "reading the token failed")
		return
	}
	if err := s.store.RevokeToken(r.Context(), id); err != nil {
		fail(w, http.StatusInternalServerError, "revoking the token failed")
		return
	}
	s.auth.Forget(id)
	s.log.Info("token revoked", "id", id, "by", tokenOf(r).Name)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "role": string(s.opts.Role)})
}

// logRequests is a small access log at debug level.
func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		log.Debug("http", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "took", time.Since(start))
	})
}
