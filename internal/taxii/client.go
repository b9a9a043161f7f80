package taxii

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Credentials authenticate a client: HTTP basic, a bearer token, or none
// (the zero value). They print as a description without the secret, so a
// Client or Credentials can be logged safely.
type Credentials struct {
	kind   uint8 // 0 none, 1 basic, 2 bearer
	user   string
	secret string
}

// Basic returns credentials for HTTP basic authentication.
func Basic(user, password string) Credentials {
	return Credentials{kind: 1, user: user, secret: password}
}

// Bearer returns credentials that send "Authorization: Bearer <token>".
func Bearer(token string) Credentials { return Credentials{kind: 2, secret: token} }

// String describes c without its secret.
func (c Credentials) String() string {
	switch c.kind {
	case 1:
		return fmt.Sprintf("basic authentication as %q (password redacted)", c.user)
	case 2:
		return "bearer token (redacted)"
	}
	return "no credentials"
}

// GoString is String, so that %#v does not print the secret either.
func (c Credentials) GoString() string { return c.String() }

// MarshalJSON writes c's description, never its secret.
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

func (c Credentials) apply(r *http.Request) {
	switch c.kind {
	case 1:
		r.SetBasicAuth(c.user, c.secret)
	case 2:
		r.Header.Set("Authorization", "Bearer "+c.secret)
	}
}

// Client is a TAXII 2.1 client. The zero value is ready to use, without
// credentials.
type Client struct {
	Auth Credentials
	// HTTP sends the requests; nil uses a client with a one-minute timeout
	// per request. Credentials are never sent after a redirect to another
	// host (net/http drops the Authorization header).
	HTTP *http.Client
	// MaxResponseBytes bounds the body of one response; default 64 MiB.
	MaxResponseBytes int64
	// MaxPages bounds the pages Objects and Manifest follow; default 10000.
	MaxPages  int
	UserAgent string // default "vigil-taxii"
}

// Error is a request that failed: the server answered with an error
// status. Message is the TAXII error message when the server sent one.
type Error struct {
	URL        string // redacted of any credentials
	StatusCode int
	Message    *ErrorMessage
	Body       string // the beginning of a body that is not a TAXII error message
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "taxii: GET %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.Message != nil:
		b.WriteString(": " + e.Message.Title)
		if e.Message.Description != "" {
			b.WriteString(": " + e.Message.Description)
		}
	case e.Body != "":
		fmt.Fprintf(&b, " (body: %q)", e.Body)
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		b.WriteString(" (check the credentials: a token or user and password)")
	case http.StatusForbidden:
		b.WriteString(" (the credentials do not give access to this resource)")
	case http.StatusNotAcceptable:
		b.WriteString(" (the server does not serve TAXII 2.1 here)")
	}
	return b.String()
}

const (
	defaultMaxResponse = 64 << 20
	defaultMaxPages    = 10000
)

var defaultHTTP = &http.Client{Timeout: time.Minute}

// redact returns u without credentials for errors.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User("REDACTED")
	}
	return c.String()
}

// get fetches u and decodes its JSON body into v. It returns the
// response's headers.
func (c *Client) get(ctx context.Context, u *url.URL, v any) (http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("taxii: GET %s: %w", redact(u), err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	ua := c.UserAgent
	if ua == "" {
		ua = "vigil-taxii"
	}
	req.Header.Set("User-Agent", ua)
	c.Auth.apply(req)
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		// url.Error holds the URL: rebuild the message with the redacted one.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("taxii: GET %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = defaultMaxResponse
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("taxii: GET %s: reading the response: %w", redact(u), err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("taxii: GET %s: response larger than %d bytes (ask for smaller pages with a limit, or raise the client's maximum)", redact(u), limit)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{URL: redact(u), StatusCode: resp.StatusCode}
		var em ErrorMessage
		if json.Unmarshal(body, &em) == nil && em.Title != "" {
			e.Message = &em
		} else {
			e.Body = snippet(body)
		}
		return resp.Header, e
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("taxii: GET %s: the response (%s) is not TAXII JSON: %v; body starts %q",
			redact(u), resp.Header.Get("Content-Type"), err, snippet(body))
	}
	return resp.Header, nil
}

func snippet(b []byte) string {
	const n = 200
	s := strings.ToValidUTF8(string(b[:min(len(b), n)]), "?")
	if len(b) > n {
		s += "…"
	}
	return s
}

// parseURL parses an endpoint URL and makes sure its path ends with '/'.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("taxii: URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("taxii: URL %s: want an absolute http or https URL", redact(u))
	}
	return withSlash(u), nil
}

// withSlash returns u with a path that ends with '/', as TAXII URLs do.
func withSlash(u *url.URL) *url.URL {
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u
}

// Discover fetches a server's discovery resource (at …/taxii2/). The API
// root URLs in it are made absolute against u.
func (c *Client) Discover(ctx context.Context, rawURL string) (*Discovery, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var d Discovery
	if _, err := c.get(ctx, u, &d); err != nil {
		return nil, err
	}
	abs := func(s string) string {
		r, err := u.Parse(s)
		if err != nil {
			return s
		}
		return r.String()
	}
	for i, r := range d.APIRoots {
		d.APIRoots[i] = abs(r)
	}
	if d.Default != "" {
		d.Default = abs(d.Default)
	}
	return &d, nil
}

// APIRoot fetches an API root's information.
func (c *Client) APIRoot(ctx context.Context, apiRoot string) (*APIRootInfo, error) {
	u, err := parseURL(apiRoot)
	if err != nil {
		return nil, err
	}
	var a APIRootInfo
	if _, err := c.get(ctx, u, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Collections lists the collections of an API root.
func (c *Client) Collections(ctx context.Context, apiRoot string) ([]Collection, error) {
	u, err := parseURL(apiRoot)
	if err != nil {
		return nil, err
	}
	u = withSlash(u.JoinPath("collections"))
	var r struct {
		Collections []Collection `json:"collections"`
	}
	if _, err := c.get(ctx, u, &r); err != nil {
		return nil, err
	}
	return r.Collections, nil
}

// Query selects objects of a collection.
type Query struct {
	AddedAfter time.Time // only objects added after this (the previous result's DateAddedLast)
	Limit      int       // objects per page (0: the server's choice)
	Types      []string  // only these STIX types
}

// ObjectsResult is what Objects fetched.
type ObjectsResult struct {
	Objects []json.RawMessage
	// DateAddedLast is the latest X-TAXII-Date-Added-Last of the pages: give
	// it as the next query's AddedAfter to get only what was added since.
	// It is the query's AddedAfter when nothing new came (or the server sent
	// no such header).
	DateAddedLast time.Time
	Pages         int
}

func (c *Client) collectionURL(apiRoot, collectionID, endpoint string) (*url.URL, error) {
	u, err := parseURL(apiRoot)
	if err != nil {
		return nil, err
	}
	if collectionID == "" || strings.Contains(collectionID, "/") {
		return nil, fmt.Errorf("taxii: collection id %q: want a collection's id", collectionID)
	}
	return withSlash(u.JoinPath("collections", collectionID, endpoint)), nil
}

// Objects fetches the objects of a collection that q selects, following
// the server's pages: with next while the server says more, or with the
// page's X-TAXII-Date-Added-Last as added_after from a server that pages
// without next.
func (c *Client) Objects(ctx context.Context, apiRoot, collectionID string, q Query) (*ObjectsResult, error) {
	res := &ObjectsResult{DateAddedLast: q.AddedAfter}
	err := c.pages(ctx, apiRoot, collectionID, "objects", q, func(body []byte) (bool, string, error) {
		var env struct {
			More    bool              `json:"more"`
			Next    string            `json:"next"`
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return false, "", err
		}
		res.Objects = append(res.Objects, env.Objects...)
		return env.More, env.Next, nil
	}, res)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Manifest fetches the manifest of a collection, following pages as
// Objects does. It returns the latest X-TAXII-Date-Added-Last too.
func (c *Client) Manifest(ctx context.Context, apiRoot, collectionID string, q Query) ([]ManifestRecord, time.Time, error) {
	var recs []ManifestRecord
	res := &ObjectsResult{DateAddedLast: q.AddedAfter}
	err := c.pages(ctx, apiRoot, collectionID, "manifest", q, func(body []byte) (bool, string, error) {
		var m struct {
			More    bool             `json:"more"`
			Next    string           `json:"next"`
			Objects []ManifestRecord `json:"objects"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return false, "", err
		}
		recs = append(recs, m.Objects...)
		return m.More, m.Next, nil
	}, res)
	if err != nil {
		return nil, time.Time{}, err
	}
	return recs, res.DateAddedLast, nil
}

// pages requests the pages of a collection endpoint. page decodes a body
// and says whether the server has more and its next value.
func (c *Client) pages(ctx context.Context, apiRoot, collectionID, endpoint string, q Query,
	page func(body []byte) (more bool, next string, err error), res *ObjectsResult) error {
	base, err := c.collectionURL(apiRoot, collectionID, endpoint)
	if err != nil {
		return err
	}
	maxPages := c.MaxPages
	if maxPages <= 0 {
		maxPages = defaultMaxPages
	}
	addedAfter, next := q.AddedAfter, ""
	for {
		if res.Pages >= maxPages {
			return fmt.Errorf("taxii: GET %s: the server still has more after %d pages (raise the client's maximum, or ask with a later added_after)", redact(base), maxPages)
		}
		u := *base
		v := url.Values{}
		if !addedAfter.IsZero() {
			v.Set("added_after", addedAfter.UTC().Format(time.RFC3339Nano))
		}
		if q.Limit > 0 {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
		if len(q.Types) > 0 {
			v.Set("match[type]", strings.Join(q.Types, ","))
		}
		if next != "" {
			v.Set("next", next)
		}
		u.RawQuery = v.Encode()
		var body json.RawMessage
		h, err := c.get(ctx, &u, &body)
		if err != nil {
			return err
		}
		res.Pages++
		more, nxt, err := page(body)
		if err != nil {
			return fmt.Errorf("taxii: GET %s: not a TAXII %s resource: %v", redact(&u), endpoint, err)
		}
		var last time.Time
		if s := h.Get("X-TAXII-Date-Added-Last"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return fmt.Errorf("taxii: GET %s: X-TAXII-Date-Added-Last %q is not a timestamp", redact(&u), s)
			}
			last = t.UTC()
			if last.After(res.DateAddedLast) {
				res.DateAddedLast = last
			}
		}
		if !more {
			return nil
		}
		switch {
		case nxt != "":
			if nxt == next {
				return fmt.Errorf("taxii: GET %s: the server gave the same next value again (it would page forever)", redact(&u))
			}
			next = nxt
		case last.After(addedAfter):
			// A server that pages without next: continue after this page.
			addedAfter, next = last, ""
		default:
			return fmt.Errorf("taxii: GET %s: the server says there is more but gives neither next nor a later X-TAXII-Date-Added-Last", redact(&u))
		}
	}
}
