package feeds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/taxii"
)

// userAgent is sent with every request.
const userAgent = "vigil-feeds"

// credentials are a feed's secrets, read from the environment when the
// feed is updated. They never print.
type credentials struct {
	kind, user, secret, header string
}

func (c credentials) String() string   { return "credentials(" + c.kind + ")" }
func (c credentials) GoString() string { return c.String() }

func resolveCredentials(a Auth, getenv func(string) string) (credentials, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	need := func(name string) (string, error) {
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("auth: %s: %w (export it before running vigil)", name, errMissingSecret)
		}
		return v, nil
	}
	c := credentials{kind: a.Type, header: a.Header}
	var err error
	switch a.Type {
	case "":
		return c, nil
	case "bearer", "header":
		c.secret, err = need(a.TokenEnv)
	case "basic":
		if c.user, err = need(a.UserEnv); err == nil {
			c.secret, err = need(a.PasswordEnv)
		}
	}
	return c, err
}

func (c credentials) apply(req *http.Request) {
	switch c.kind {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+c.secret)
	case "basic":
		req.SetBasicAuth(c.user, c.secret)
	case "header":
		req.Header.Set(c.header, c.secret)
	}
}

func (c credentials) taxii() taxii.Credentials {
	switch c.kind {
	case "bearer":
		return taxii.Bearer(c.secret)
	case "basic":
		return taxii.Basic(c.user, c.secret)
	}
	return taxii.Credentials{}
}

// redact removes the secret from an error's text, should anything have
// echoed it.
func (c credentials) redact(err error) error {
	if err == nil || c.secret == "" || !strings.Contains(err.Error(), c.secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), c.secret, "[redacted]"))
}

// get fetches u, conditionally when etag or lastModified are given.
func (u *Updater) get(ctx context.Context, rawURL string, cred credentials, etag, lastModified string) (job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return job{}, err
	}
	req.Header.Set("User-Agent", userAgent)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	cred.apply(req)
	resp, err := u.client().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return job{}, ue.Err
		}
		return job{}, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return job{notModified: true, etag: etag, lastModified: lastModified}, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		hint := "check the credentials the auth: variables hold"
		if cred.kind == "" {
			hint = "the feed needs credentials: add auth: with the environment variables that hold them"
		}
		return job{}, fmt.Errorf("HTTP %s (%s)", resp.Status, hint)
	case resp.StatusCode != http.StatusOK:
		return job{}, fmt.Errorf("HTTP %s", resp.Status)
	}
	data, err := readLimited(resp.Body, "the download")
	if err != nil {
		return job{}, err
	}
	j := job{data: data, bytes: int64(len(data)), contentType: resp.Header.Get("Content-Type"),
		etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}
	return j, nil
}

func (u *Updater) fetchURL(ctx context.Context, f *Feed, cred credentials, st state) (job, error) {
	return u.get(ctx, f.URL.String(), cred, st.ETag, st.LastModified)
}

func (u *Updater) fetchPath(f *Feed, st state) (job, error) {
	data, err := os.ReadFile(f.Path)
	if err != nil {
		return job{}, err
	}
	return job{data: data, bytes: int64(len(data))}, nil
}

// fetchTAXII pulls the objects added to a collection since the last run
// and merges them into the bundle in the cache.
func (u *Updater) fetchTAXII(ctx context.Context, f *Feed, cred credentials, st state) (job, error) {
	cl := &taxii.Client{Auth: cred.taxii(), HTTP: u.HTTP, UserAgent: userAgent}
	q := taxii.Query{Types: f.TAXII.Types}
	if st.File != "" {
		q.AddedAfter = st.AddedAfter
	}
	res, err := cl.Objects(ctx, f.TAXII.APIRoot, f.TAXII.Collection, q)
	if err != nil {
		return job{}, err
	}
	if len(res.Objects) == 0 {
		return job{notModified: true, addedAfter: res.DateAddedLast}, nil
	}
	var objs []json.RawMessage
	if st.File != "" {
		old, err := os.ReadFile(filepath.Join(u.Dir, st.File))
		if err != nil {
			return job{}, err
		}
		var b struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal(old, &b); err != nil {
			return job{}, fmt.Errorf("the copy in the cache is not a STIX bundle (%v): remove %s to fetch the whole collection again", err, st.File)
		}
		objs = b.Objects
	}
	pos := map[string]int{}
	for i, o := range objs {
		pos[stixID(o)] = i
	}
	var n int64
	for _, o := range res.Objects {
		n += int64(len(o))
		id := stixID(o)
		if i, ok := pos[id]; ok && id != "" {
			objs[i] = o // a newer version
			continue
		}
		pos[id] = len(objs)
		objs = append(objs, o)
	}
	sum := sha256.Sum256([]byte(f.TAXII.APIRoot + f.TAXII.Collection))
	bundle := map[string]any{"type": "bundle", "id": "bundle--" + uuidFrom(sum[:]), "objects": objs}
	data, err := json.Marshal(bundle)
	if err != nil {
		return job{}, err
	}
	return job{data: data, bytes: n, addedAfter: res.DateAddedLast}, nil
}

func stixID(o json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	json.Unmarshal(o, &v)
	return v.ID
}

func uuidFrom(b []byte) string {
	h := hex.EncodeToString(b[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// fetchMISPFeed stages a MISP feed folder: manifest.json (conditionally),
// the events it lists (those whose timestamp did not change are copied from
// the cache) and hashes.csv when the feed has one.
func (u *Updater) fetchMISPFeed(ctx context.Context, f *Feed, cred credentials, st state) (job, error) {
	read := func(name, etag, lastModified string) (job, error) {
		if f.URL != nil {
			base := f.URL.String()
			if !strings.HasSuffix(base, "/") {
				base += "/"
			}
			return u.get(ctx, base+name, cred, etag, lastModified)
		}
		data, err := os.ReadFile(filepath.Join(f.Path, name))
		return job{data: data, bytes: int64(len(data))}, err
	}
	var etag, lastModified string
	if st.File != "" {
		etag, lastModified = st.ETag, st.LastModified
	}
	mj, err := read("manifest.json", etag, lastModified)
	if err != nil {
		return job{}, fmt.Errorf("manifest.json: %w", err)
	}
	if mj.notModified {
		return mj, nil
	}
	var manifest map[string]json.RawMessage
	if err := json.Unmarshal(mj.data, &manifest); err != nil {
		return job{}, fmt.Errorf("manifest.json is not a MISP feed manifest: %v", err)
	}
	var old map[string]json.RawMessage
	oldDir := ""
	if st.File != "" {
		oldDir = filepath.Join(u.Dir, st.File)
		if data, err := os.ReadFile(filepath.Join(oldDir, "manifest.json")); err == nil {
			json.Unmarshal(data, &old)
		}
	}
	staging, err := os.MkdirTemp(u.Dir, "."+f.Name+".tmp-*")
	if err != nil {
		return job{}, err
	}
	j := job{dir: staging, bytes: mj.bytes, etag: mj.etag, lastModified: mj.lastModified, contentType: mj.contentType}
	if err := os.WriteFile(filepath.Join(staging, "manifest.json"), mj.data, 0o644); err != nil {
		j.cleanup()
		return job{}, err
	}
	ids := make([]string, 0, len(manifest))
	for id := range manifest {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	entryErr := func(name string, err error) {
		j.entryErrs = append(j.entryErrs, &intel.LoadError{Path: filepath.Join(u.Dir, f.Name, name), Err: cred.redact(err)})
	}
	for _, id := range ids {
		if !uuidRE.MatchString(id) {
			entryErr("manifest.json", fmt.Errorf("event %q: not a UUID, skipped", id))
			continue
		}
		name := id + ".json"
		if oldDir != "" && old != nil && string(old[id]) == string(manifest[id]) {
			if data, err := os.ReadFile(filepath.Join(oldDir, name)); err == nil {
				if err := os.WriteFile(filepath.Join(staging, name), data, 0o644); err != nil {
					j.cleanup()
					return job{}, err
				}
				continue
			}
		}
		ej, err := read(name, "", "")
		if err != nil {
			if ctx.Err() != nil {
				j.cleanup()
				return job{}, ctx.Err()
			}
			entryErr(name, err)
			continue
		}
		j.bytes += ej.bytes
		if err := os.WriteFile(filepath.Join(staging, name), ej.data, 0o644); err != nil {
			j.cleanup()
			return job{}, err
		}
	}
	if hj, err := read("hashes.csv", "", ""); err == nil {
		j.bytes += hj.bytes
		os.WriteFile(filepath.Join(staging, "hashes.csv"), hj.data, 0o644)
	}
	return j, nil
}

// commitDir validates a staged MISP feed folder and swaps it in.
func (u *Updater) commitDir(f *Feed, st *state, j *job, res *Result) error {
	final := filepath.Join(u.Dir, f.Name)
	b := intel.NewBuilder()
	b.LoadPath(j.dir, intel.LoadOptions{Format: intel.FormatMISPFeed})
	idx, werrs := b.Build()
	errs := append(b.Errors(), werrs...)
	for _, err := range errs {
		var le *intel.LoadError
		if errors.As(err, &le) && strings.HasPrefix(le.Path, j.dir) {
			le.Path = final + strings.TrimPrefix(le.Path, j.dir)
		}
	}
	if f.TLP != "" || f.Confidence != 0 {
		res.Warnings = append(res.Warnings, "tlp and confidence defaults are not applied to a MISP feed: its events state their own")
	}
	if err := judge(idx, append(j.entryErrs, errs...), st.Indicators); err != nil {
		return err
	}
	res.Errors = append(j.entryErrs, errs...)
	digest, err := treeDigest(j.dir)
	if err != nil {
		return err
	}
	if digest == st.SHA256 && st.File == f.Name {
		res.Status = NotModified
	} else {
		old := filepath.Join(u.Dir, "."+f.Name+".old")
		os.RemoveAll(old)
		hadOld := false
		if _, err := os.Stat(final); err == nil {
			if err := os.Rename(final, old); err != nil {
				return err
			}
			hadOld = true
		}
		if err := os.Rename(j.dir, final); err != nil {
			if hadOld {
				os.Rename(old, final)
			}
			return err
		}
		j.dir = ""
		os.RemoveAll(old)
		res.Status = Updated
		if st.File != "" && st.File != f.Name {
			os.RemoveAll(filepath.Join(u.Dir, st.File))
		}
		st.Updated = u.now()
	}
	u.remember(f, st, j, f.Name, digest, idx.Len(), res)
	return u.saveState(f.Name, *st)
}

// treeDigest is the SHA-256 of a folder's file names and contents.
func treeDigest(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
