package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config says what a Server is and who may read it.
type Config struct {
	Title       string // of the server (discovery); default "vigil TAXII server"
	Description string
	Contact     string
	// APIRoot is the path segment of the server's one API root; default
	// "vigil". ("taxii2" is the discovery endpoint and cannot be used.)
	APIRoot string
	// BaseURL is the absolute URL the handler is mounted at
	// (https://intel.example.org/taxii), written into the discovery
	// resource. Empty: derived from each request (scheme, Host and the
	// prefix stripped before the handler), which is wrong behind a reverse
	// proxy that changes them.
	BaseURL string
	// Auth authenticates every request. A server without one is refused
	// unless AllowAnonymous is set.
	Auth           Authenticator
	AllowAnonymous bool
	// MaxPageSize caps the objects of one response (and is the page size
	// when a client gives no limit); default 1000.
	MaxPageSize int
	Logger      *slog.Logger // default: discard
}

// Collection describes a collection (the TAXII collection resource).
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// Discovery is the TAXII discovery resource.
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRootInfo is the TAXII API root resource.
type APIRootInfo struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// ErrorMessage is the TAXII error message resource.
type ErrorMessage struct {
	Title           string            `json:"title"`
	Description     string            `json:"description,omitempty"`
	ErrorID         string            `json:"error_id,omitempty"`
	ErrorCode       string            `json:"error_code,omitempty"`
	HTTPStatus      string            `json:"http_status,omitempty"`
	ExternalDetails string            `json:"external_details,omitempty"`
	Details         map[string]string `json:"details,omitempty"`
}

// ManifestRecord is one entry of a collection's manifest.
type ManifestRecord struct {
	ID        string    `json:"id"`
	DateAdded time.Time `json:"date_added"`
	Version   time.Time `json:"version"`
	MediaType string    `json:"media_type,omitempty"`
}

// Server is a read-only TAXII 2.1 server: an http.Handler serving the
// discovery endpoint at taxii2/ and one API root with its collections,
// relative to where it is mounted (use http.StripPrefix to mount it under a
// prefix). Add collections before serving; Refresh may run while serving.
type Server struct {
	cfg        Config
	log        *slog.Logger
	colls      []*collection
	refreshers []func(context.Context) error
	refreshMu  sync.Mutex
}

type collection struct {
	info  Collection
	store Store
}

var _ http.Handler = (*Server)(nil)

// maxContentLength is what the API root announces. The server accepts no
// writes: the value only tells clients that it would refuse large ones.
const maxContentLength = 10 << 20

// NewServer returns a server without collections.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Title == "" {
		cfg.Title = "vigil TAXII server"
	}
	if cfg.APIRoot == "" {
		cfg.APIRoot = "vigil"
	}
	if cfg.APIRoot == "taxii2" || strings.ContainsAny(cfg.APIRoot, "/?#%") || cfg.APIRoot != url.PathEscape(cfg.APIRoot) {
		return nil, fmt.Errorf("taxii server: API root %q: want one path segment other than taxii2, e.g. \"vigil\"", cfg.APIRoot)
	}
	if cfg.Auth == nil && !cfg.AllowAnonymous {
		return nil, errors.New("taxii server: no authentication: give tokens (or users), or allow anonymous access explicitly")
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("taxii server: base URL %q: want an absolute URL such as https://intel.example.org/taxii", cfg.BaseURL)
		}
		cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = 1000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log.With("component", "taxii")}, nil
}

// AddCollection adds a collection backed by st. Its id (and alias, if any)
// name it in URLs; can_read is set, can_write cleared (the server is read
// only) and media_types default to STIX 2.1. Call it before serving.
func (s *Server) AddCollection(c Collection, st Store) error {
	if c.ID == "" || c.Title == "" || st == nil {
		return errors.New("taxii server: a collection needs an id, a title and a store")
	}
	for _, o := range s.colls {
		if o.info.ID == c.ID || c.Alias != "" && (o.info.Alias == c.Alias || o.info.ID == c.Alias) {
			return fmt.Errorf("taxii server: collection %q: id or alias already used", c.ID)
		}
	}
	c.CanRead, c.CanWrite = true, false
	if len(c.MediaTypes) == 0 {
		c.MediaTypes = []string{MediaTypeSTIX}
	}
	s.colls = append(s.colls, &collection{info: c, store: st})
	return nil
}

// Refresh brings the collections up to date with their sources (see
// NewVigilServer). A server without sources has nothing to refresh.
func (s *Server) Refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	var errs []error
	for _, f := range s.refreshers {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// RefreshEvery calls Refresh every d until ctx is done, logging errors.
// It returns ctx's error.
func (s *Server) RefreshEvery(ctx context.Context, d time.Duration) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := s.Refresh(ctx); err != nil {
				s.log.Warn("refresh failed", "err", err)
			}
		}
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if s.cfg.Auth != nil {
		client, err := s.cfg.Auth.Authenticate(r)
		if err != nil {
			s.log.Info("request refused", "remote", r.RemoteAddr, "path", r.URL.Path, "reason", err)
			if errors.Is(err, ErrForbidden) {
				s.error(w, r, http.StatusForbidden, "Forbidden", "these credentials do not give access to this server")
				return
			}
			if c, ok := s.cfg.Auth.(Challenger); ok {
				h.Set("WWW-Authenticate", c.Challenge())
			}
			desc := "this server requires authentication"
			if !errors.Is(err, ErrNoCredentials) {
				desc = "the credentials were not accepted"
			}
			s.error(w, r, http.StatusUnauthorized, "Authentication required", desc)
			return
		}
		s.log.Debug("request", "client", client, "path", r.URL.Path, "query", r.URL.RawQuery)
	}
	if !acceptable(r.Header.Values("Accept")) {
		s.error(w, r, http.StatusNotAcceptable, "Not acceptable",
			"this server answers with "+MediaTypeTAXII+"; the Accept header allows none of it")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		s.error(w, r, http.StatusMethodNotAllowed, "Method not allowed", "this server is read only: use GET")
		return
	}
	p := r.URL.Path
	if !strings.HasSuffix(p, "/") {
		s.error(w, r, http.StatusNotFound, "Not found", "TAXII URLs end with '/': try "+p+"/")
		return
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if len(seg) == 1 && seg[0] == "taxii2" {
		s.discovery(w, r)
		return
	}
	if seg[0] != s.cfg.APIRoot {
		s.error(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("no API root or endpoint at %q (discovery is at taxii2/)", p))
		return
	}
	switch {
	case len(seg) == 1:
		s.writeJSON(w, APIRootInfo{Title: s.cfg.Title, Description: s.cfg.Description, Versions: []string{MediaTypeTAXII}, MaxContentLength: maxContentLength})
		return
	case len(seg) == 2 && seg[1] == "collections":
		infos := make([]Collection, len(s.colls))
		for i, c := range s.colls {
			infos[i] = c.info
		}
		s.writeJSON(w, struct {
			Collections []Collection `json:"collections,omitempty"`
		}{infos})
		return
	case len(seg) >= 3 && seg[1] == "collections":
	default:
		s.error(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("no endpoint at %q", p))
		return
	}
	c := s.collection(seg[2])
	if c == nil {
		s.error(w, r, http.StatusNotFound, "Collection not found", fmt.Sprintf("no collection %q in API root %q", seg[2], s.cfg.APIRoot))
		return
	}
	switch rest := seg[3:]; {
	case len(rest) == 0:
		s.writeJSON(w, c.info)
	case len(rest) == 1 && rest[0] == "objects":
		s.objects(w, r, c, "")
	case len(rest) == 1 && rest[0] == "manifest":
		s.manifest(w, r, c)
	case len(rest) == 2 && rest[0] == "objects":
		s.objects(w, r, c, rest[1])
	case len(rest) == 3 && rest[0] == "objects" && rest[2] == "versions":
		s.versions(w, r, c, rest[1])
	default:
		s.error(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("no endpoint at %q", p))
	}
}

func (s *Server) collection(idOrAlias string) *collection {
	for _, c := range s.colls {
		if c.info.ID == idOrAlias || c.info.Alias != "" && c.info.Alias == idOrAlias {
			return c
		}
	}
	return nil
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	root := s.baseURL(r) + "/" + s.cfg.APIRoot + "/"
	s.writeJSON(w, Discovery{
		Title: s.cfg.Title, Description: s.cfg.Description, Contact: s.cfg.Contact,
		Default: root, APIRoots: []string{root},
	})
}

// baseURL returns the URL the handler is mounted at, without a trailing
// slash.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	prefix := ""
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && r.RequestURI != "" {
		prefix, _ = strings.CutSuffix(u.Path, r.URL.Path)
		if len(prefix) == len(u.Path) {
			prefix = ""
		}
	}
	return scheme + "://" + r.Host + strings.TrimSuffix(prefix, "/")
}

// acceptable reports whether an Accept header allows TAXII 2.1 JSON. No
// header, */* and application/* do; application/taxii+json does without a
// version (the latest, 2.1) or with version=2.1.
func acceptable(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if v, ok := params["version"]; !ok || v == "2.1" {
					return true
				}
			}
		}
	}
	return false
}

// query is a parsed objects or manifest request.
type query struct {
	f           Filter
	specVersion bool // match[spec_version] allows 2.1 (or is absent)
}

func (s *Server) parseQuery(r *http.Request, objectID string) (query, *ErrorMessage) {
	q := r.URL.Query()
	bad := func(param, format string, a ...any) (query, *ErrorMessage) {
		return query{}, &ErrorMessage{Title: "Bad request", Description: param + ": " + fmt.Sprintf(format, a...), Details: map[string]string{"parameter": param}}
	}
	var out query
	out.specVersion = true
	f := &out.f
	if v := q.Get("added_after"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return bad("added_after", "%q is not an RFC 3339 timestamp such as 2026-01-02T15:04:05.123456Z", v)
		}
		f.AddedAfter = t.UTC()
	}
	f.Limit = s.cfg.MaxPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return bad("limit", "%q is not a positive integer", v)
		}
		f.Limit = min(n, s.cfg.MaxPageSize)
	}
	if v := q.Get("next"); v != "" {
		p, err := decodeCursor(v)
		if err != nil {
			return bad("next", "%v", err)
		}
		f.After = p
	}
	list := func(name string) []string {
		var out []string
		for _, v := range q[name] {
			for x := range strings.SplitSeq(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	f.Types = list("match[type]")
	f.IDs = list("match[id]")
	if objectID != "" {
		f.IDs = []string{objectID}
	}
	for _, v := range list("match[version]") {
		switch v {
		case "last", "first", "all": // the store keeps one version of each object
		default:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return bad("match[version]", "%q is not last, first, all or a timestamp", v)
			}
			f.Versions = append(f.Versions, t)
		}
	}
	if sv := list("match[spec_version]"); len(sv) > 0 {
		out.specVersion = false
		for _, v := range sv {
			out.specVersion = out.specVersion || v == "2.1"
		}
	}
	return out, nil
}

// taxiiTime formats a date added: UTC, microseconds.
func taxiiTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, c *collection, objectID string) (Page, bool) {
	q, em := s.parseQuery(r, objectID)
	if em != nil {
		s.writeError(w, r, http.StatusBadRequest, *em)
		return Page{}, false
	}
	if !q.specVersion {
		return Page{}, true
	}
	page, err := c.store.List(r.Context(), q.f)
	if err != nil {
		s.log.Error("listing a collection failed", "collection", c.info.ID, "err", err)
		s.error(w, r, http.StatusInternalServerError, "Internal error", "the collection could not be read")
		return Page{}, false
	}
	if n := len(page.Objects); n > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", taxiiTime(page.Objects[0].DateAdded))
		w.Header().Set("X-TAXII-Date-Added-Last", taxiiTime(page.Objects[n-1].DateAdded))
	}
	return page, true
}

func nextOf(p Page) string {
	if !p.More || len(p.Objects) == 0 {
		return ""
	}
	last := p.Objects[len(p.Objects)-1]
	return encodeCursor(Position{DateAdded: last.DateAdded, ID: last.ID})
}

func (s *Server) objects(w http.ResponseWriter, r *http.Request, c *collection, objectID string) {
	page, ok := s.list(w, r, c, objectID)
	if !ok {
		return
	}
	if objectID != "" && len(page.Objects) == 0 {
		s.error(w, r, http.StatusNotFound, "Object not found", fmt.Sprintf("no object %q in collection %q matches the request", objectID, c.info.ID))
		return
	}
	env := struct {
		More    bool              `json:"more"`
		Next    string            `json:"next,omitempty"`
		Objects []json.RawMessage `json:"objects,omitempty"`
	}{More: page.More, Next: nextOf(page)}
	for _, o := range page.Objects {
		env.Objects = append(env.Objects, o.Raw)
	}
	s.writeJSON(w, env)
}

type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type"`
}

func (s *Server) manifest(w http.ResponseWriter, r *http.Request, c *collection) {
	page, ok := s.list(w, r, c, "")
	if !ok {
		return
	}
	m := struct {
		More    bool             `json:"more"`
		Next    string           `json:"next,omitempty"`
		Objects []manifestRecord `json:"objects,omitempty"`
	}{More: page.More, Next: nextOf(page)}
	for _, o := range page.Objects {
		m.Objects = append(m.Objects, manifestRecord{ID: o.ID, DateAdded: taxiiTime(o.DateAdded), Version: stixTime(o.Version), MediaType: MediaTypeSTIX})
	}
	s.writeJSON(w, m)
}

func (s *Server) versions(w http.ResponseWriter, r *http.Request, c *collection, objectID string) {
	page, ok := s.list(w, r, c, objectID)
	if !ok {
		return
	}
	if len(page.Objects) == 0 {
		s.error(w, r, http.StatusNotFound, "Object not found", fmt.Sprintf("no object %q in collection %q", objectID, c.info.ID))
		return
	}
	v := struct {
		More     bool     `json:"more"`
		Versions []string `json:"versions"`
	}{}
	for _, o := range page.Objects {
		v.Versions = append(v.Versions, stixTime(o.Version))
	}
	s.writeJSON(w, v)
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding a response failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", MediaTypeTAXII)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) error(w http.ResponseWriter, r *http.Request, status int, title, desc string) {
	s.writeError(w, r, status, ErrorMessage{Title: title, Description: desc})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, status int, em ErrorMessage) {
	em.HTTPStatus = strconv.Itoa(status)
	b, _ := json.Marshal(em)
	w.Header().Set("Content-Type", MediaTypeTAXII)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
