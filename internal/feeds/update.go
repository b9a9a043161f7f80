package feeds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/taxii"
)

// MaxDownload bounds one download (a feed file, a MISP event, a TAXII
// response is bounded by the TAXII client).
const MaxDownload = 512 << 20

// Status is what an update did to a feed's copy.
type Status int

// Statuses of a feed after an update.
const (
	Updated     Status = iota // a new copy replaced the old one (or is the first)
	NotModified               // the source has nothing new; the copy was kept
	NotDue                    // checked less than the feed's refresh interval ago
	Failed                    // the download or its content was unusable; any previous copy was kept
)

func (s Status) String() string {
	switch s {
	case Updated:
		return "updated"
	case NotModified:
		return "not modified"
	case NotDue:
		return "not due"
	}
	return "failed"
}

// Result is what updating one feed did.
type Result struct {
	Feed   string
	Status Status
	// Err says why the feed failed. It never holds a credential.
	Err error
	// Path is the feed's copy in the cache ("" if there is none).
	Path string
	// Bytes downloaded (for a TAXII feed, of the new objects).
	Bytes int64
	// Indicators in the copy now in the cache: the new one, or the one kept.
	Indicators int
	// Errors are the bad entries of the new copy: each was skipped.
	Errors []error
	// Warnings are notes on how the feed was read.
	Warnings []string
	// Updated is when the copy in the cache was last replaced.
	Updated  time.Time
	Duration time.Duration
}

// Updater fetches feeds into a cache folder. Each feed's copy is replaced
// only by a download that loads: a failed or unparseable download leaves
// the previous copy in place.
type Updater struct {
	// Dir is the cache folder; it is created if needed.
	Dir string
	// HTTP sends the requests; nil uses a client without an overall
	// timeout (each feed has its own).
	HTTP *http.Client
	// Getenv reads the credentials' environment variables; nil: os.Getenv.
	Getenv func(string) string
	// Force updates feeds checked less than their refresh interval ago.
	Force  bool
	Logger *slog.Logger // default: discard
	Now    func() time.Time
}

func (u *Updater) now() time.Time {
	if u.Now != nil {
		return u.Now()
	}
	return time.Now()
}

func (u *Updater) logger() *slog.Logger {
	if u.Logger != nil {
		return u.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (u *Updater) client() *http.Client {
	if u.HTTP != nil {
		return u.HTTP
	}
	return &http.Client{}
}

// Update updates every feed of cfg in order, calling progress (if not nil)
// with each result as it is known, and returns the results.
func (u *Updater) Update(ctx context.Context, cfg *Config, progress func(Result)) []Result {
	var out []Result
	for _, f := range cfg.Feeds {
		if ctx.Err() != nil {
			out = append(out, Result{Feed: f.Name, Status: Failed, Err: ctx.Err()})
			continue
		}
		r := u.UpdateFeed(ctx, f)
		if progress != nil {
			progress(r)
		}
		out = append(out, r)
	}
	return out
}

// state is what the cache keeps beside a feed's copy, in .<name>.state.json.
type state struct {
	File         string    `json:"file,omitempty"` // the copy, relative to the cache folder
	Source       string    `json:"source,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	AddedAfter   time.Time `json:"added_after,omitzero"` // TAXII: the last X-TAXII-Date-Added-Last
	Checked      time.Time `json:"checked,omitzero"`     // the last successful check
	Updated      time.Time `json:"updated,omitzero"`     // when the copy was replaced
	Bytes        int64     `json:"bytes,omitempty"`
	Indicators   int       `json:"indicators"`
	SHA256       string    `json:"sha256,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
}

func (u *Updater) statePath(name string) string {
	return filepath.Join(u.Dir, "."+name+".state.json")
}

func (u *Updater) loadState(name string) state {
	var st state
	data, err := os.ReadFile(u.statePath(name))
	if err != nil || json.Unmarshal(data, &st) != nil {
		return state{}
	}
	if st.File != "" {
		if _, err := os.Stat(filepath.Join(u.Dir, st.File)); err != nil {
			// The copy is gone: start again, unconditionally.
			return state{}
		}
	}
	return st
}

func (u *Updater) saveState(name string, st state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(u.Dir, u.statePath(name), append(data, '\n'))
}

// UpdateFeed updates one feed.
func (u *Updater) UpdateFeed(ctx context.Context, f *Feed) Result {
	start := u.now()
	res := Result{Feed: f.Name}
	defer func() { res.Duration = u.now().Sub(start) }()
	if err := os.MkdirAll(u.Dir, 0o755); err != nil {
		res.Status, res.Err = Failed, fmt.Errorf("cache folder: %w", err)
		return res
	}
	st := u.loadState(f.Name)
	if st.File != "" {
		res.Path, res.Indicators, res.Updated = filepath.Join(u.Dir, st.File), st.Indicators, st.Updated
	}
	if !u.Force && st.File != "" && !st.Checked.IsZero() && u.now().Sub(st.Checked) < f.Refresh {
		res.Status = NotDue
		return res
	}
	cred, err := resolveCredentials(f.Auth, u.Getenv)
	if err != nil {
		return u.fail(f, st, res, err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	var j job
	switch {
	case f.TAXII != nil:
		j, err = u.fetchTAXII(ctx, f, cred, st)
	case f.Format == intel.FormatMISPFeed:
		j, err = u.fetchMISPFeed(ctx, f, cred, st)
	case f.URL != nil:
		j, err = u.fetchURL(ctx, f, cred, st)
	default:
		j, err = u.fetchPath(f, st)
	}
	if err != nil {
		return u.fail(f, st, res, cred.redact(err))
	}
	res.Bytes = j.bytes
	if j.notModified {
		st.Checked, st.LastError = u.now(), ""
		if !j.addedAfter.IsZero() {
			st.AddedAfter = j.addedAfter
		}
		if err := u.saveState(f.Name, st); err != nil {
			return u.fail(f, st, res, err)
		}
		res.Status = NotModified
		return res
	}
	defer j.cleanup()
	if err := u.commit(f, &st, &j, &res); err != nil {
		return u.fail(f, st, res, cred.redact(err))
	}
	return res
}

// fail records a failure and returns its result; the copy is left alone.
func (u *Updater) fail(f *Feed, st state, res Result, err error) Result {
	res.Status, res.Err = Failed, err
	if st.File != "" {
		st.LastError = err.Error()
		if serr := u.saveState(f.Name, st); serr != nil {
			u.logger().Warn("cannot save feed state", "feed", f.Name, "err", serr)
		}
	}
	return res
}

// job is what a fetch produced: a file's content (data) or a staged folder
// (dir), with the validators to remember.
type job struct {
	notModified  bool
	data         []byte // a single-file feed's new content
	dir          string // a folder feed's staged copy
	bytes        int64
	contentType  string
	etag         string
	lastModified string
	addedAfter   time.Time
	entryErrs    []error // entries that could not be fetched
}

func (j *job) cleanup() {
	if j.dir != "" {
		os.RemoveAll(j.dir)
	}
}

// commit validates a fetched copy and, if it loads, puts it in place of the
// old one.
func (u *Updater) commit(f *Feed, st *state, j *job, res *Result) error {
	if strings.HasPrefix(strings.ToLower(j.contentType), "text/html") && f.Format == intel.FormatAuto {
		return errors.New("the server sent an HTML page, not a feed (a login or error page?); if the feed really is served as text/html, state its format: in the configuration")
	}
	if j.dir != "" {
		return u.commitDir(f, st, j, res)
	}
	var archive []intel.InflatedFile
	if intel.Compressed(j.data) {
		// A gzip stream, or a zip of one feed file, is stored
		// decompressed (the feed's options apply to its content); a zip
		// of several is stored as it came and its files are read each
		// by its format.
		files, err := intel.Inflate(j.data, 0)
		if err != nil {
			return fmt.Errorf("the download: %w", err)
		}
		if len(files) == 1 {
			j.data = files[0].Data
		} else {
			archive = files
		}
	}
	format := f.Format
	if format == intel.FormatAuto && archive == nil {
		format = intel.DetectFormat(j.data)
	}
	var stored []byte
	var ext string
	var errs []error
	var warnings []string
	if archive != nil {
		stored, ext = j.data, ".zip"
		if f.Format != intel.FormatAuto || f.Type != intel.TypeUnknown || f.Column != 0 || f.TLP != "" || f.Confidence != 0 {
			warnings = append(warnings, fmt.Sprintf("format, type, column, tlp and confidence are not applied to a zip archive of %d files: each file's format is recognised from its content; list the files as feeds of their own to set them", len(archive)))
		}
	} else {
		stored, ext, errs, warnings = prepare(f, format, j.data)
	}
	name := f.Name + ext
	final := filepath.Join(u.Dir, name)
	b := intel.NewBuilder()
	b.LoadBytes(final, stored, intel.LoadOptions{})
	idx, werrs := b.Build()
	errs = append(append(errs, b.Errors()...), werrs...)
	if err := judge(idx, errs, st.Indicators); err != nil {
		return err
	}
	sum := sha256.Sum256(stored)
	digest := hex.EncodeToString(sum[:])
	res.Errors, res.Warnings = append(j.entryErrs, errs...), warnings
	if digest == st.SHA256 && st.File == name {
		// Same content (a server without validators): keep the copy.
		res.Status = NotModified
	} else {
		if err := writeAtomic(u.Dir, final, stored); err != nil {
			return err
		}
		res.Status = Updated
		if st.File != "" && st.File != name {
			os.RemoveAll(filepath.Join(u.Dir, st.File))
		}
		st.Updated = u.now()
	}
	u.remember(f, st, j, name, digest, idx.Len(), res)
	return u.saveState(f.Name, *st)
}

func (u *Updater) remember(f *Feed, st *state, j *job, name, digest string, n int, res *Result) {
	st.File, st.Source, st.SHA256, st.Indicators = name, f.Where(), digest, n
	st.ETag, st.LastModified, st.Bytes = j.etag, j.lastModified, j.bytes
	if !j.addedAfter.IsZero() {
		st.AddedAfter = j.addedAfter
	}
	st.Checked, st.LastError = u.now(), ""
	res.Path, res.Indicators, res.Updated = filepath.Join(u.Dir, name), n, st.Updated
}

// judge refuses a copy that loads nothing: garbage, an error page, or an
// empty answer where the previous copy had indicators.
func judge(idx *intel.Index, errs []error, before int) error {
	if idx.Len() > 0 || len(idx.WarninglistNames()) > 0 {
		return nil
	}
	if len(errs) > 0 {
		more := ""
		if len(errs) > 1 {
			more = fmt.Sprintf(" (and %d more errors)", len(errs)-1)
		}
		return fmt.Errorf("nothing in the download could be loaded: %v%s", errs[0], more)
	}
	if before > 0 {
		return fmt.Errorf("the download holds no indicator (the copy in the cache has %d)", before)
	}
	return nil
}

// prepare returns what the cache stores for a download in format, and the
// file extension. A CSV or plain feed read with options that content
// detection cannot recover (type, column, tlp, confidence, a stated
// format) is stored normalised, as CSV with type, value, tlp, confidence
// and description columns; a STIX bundle gets the tlp and confidence
// defaults written into its objects; anything else is stored as it came.
func prepare(f *Feed, format intel.Format, data []byte) (stored []byte, ext string, errs []error, warnings []string) {
	switch format {
	case intel.FormatCSV, intel.FormatText:
		if f.Type == intel.TypeUnknown && f.Column == 0 && f.TLP == "" && f.Confidence == 0 && intel.DetectFormat(data) == format {
			if format == intel.FormatCSV {
				return data, ".csv", nil, nil
			}
			return data, ".txt", nil, nil
		}
		opts := f.loadOptions()
		opts.Format = format
		b := intel.NewBuilder()
		b.LoadBytes(f.Name+" (download)", data, opts)
		idx, werrs := b.Build()
		return normalizedCSV(idx.Indicators(), f), ".csv", append(b.Errors(), werrs...), nil
	case intel.FormatSTIX:
		if f.TLP != "" || f.Confidence != 0 {
			if patched, err := stixDefaults(data, f.TLP, f.Confidence); err == nil {
				return patched, ".json", nil, nil
			}
		}
		return data, ".json", nil, nil
	}
	if f.TLP != "" || f.Confidence != 0 {
		warnings = append(warnings, fmt.Sprintf("tlp and confidence defaults are not applied to a %s feed: its entries state their own", format))
	}
	if format == intel.FormatKEV && len(bytes.TrimSpace(data)) > 0 && bytes.TrimSpace(data)[0] != '{' {
		return data, ".csv", nil, warnings
	}
	if format == intel.FormatKEV || format == intel.FormatMISPEvent || format == intel.FormatJSONList || format == intel.FormatWarninglist || strings.HasPrefix(string(bytes.TrimSpace(data)), "{") {
		return data, ".json", nil, warnings
	}
	return data, ".txt", nil, warnings
}

// normalizedCSV writes indicators as CSV that intel's loader reads back
// as they are: type, value, tlp, confidence, description.
func normalizedCSV(inds []intel.Indicator, f *Feed) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"type", "value", "tlp", "confidence", "description"})
	for _, ind := range inds {
		tlp, conf := ind.TLP, ind.Confidence
		if tlp == "" {
			tlp = f.TLP
		}
		if f.Confidence != 0 && conf == intel.DefaultConfidence {
			conf = f.Confidence
		}
		w.Write([]string{ind.Type.String(), ind.Value, tlp, strconv.Itoa(conf), ind.Description})
	}
	w.Flush()
	return buf.Bytes()
}

// stixDefaults marks the objects of a STIX bundle that carry no marking
// with tlp, and gives indicators without a confidence conf.
func stixDefaults(data []byte, tlp string, conf int) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	var objs []map[string]json.RawMessage
	if err := json.Unmarshal(top["objects"], &objs); err != nil {
		return nil, err
	}
	marking, _ := taxii.TLPMarkingID(tlp)
	for _, o := range objs {
		var typ string
		json.Unmarshal(o["type"], &typ)
		if typ == "marking-definition" || typ == "identity" || typ == "relationship" {
			continue
		}
		if marking != "" && o["object_marking_refs"] == nil {
			o["object_marking_refs"], _ = json.Marshal([]string{marking})
		}
		if conf != 0 && typ == "indicator" && o["confidence"] == nil {
			o["confidence"], _ = json.Marshal(conf)
		}
	}
	top["objects"], _ = json.Marshal(objs)
	return json.Marshal(top)
}

// writeAtomic writes data to path through a temporary file in dir and a
// rename, so that a reader sees the old content or the new, never a part.
func writeAtomic(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readLimited reads at most MaxDownload bytes of r.
func readLimited(r io.Reader, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDownload+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxDownload {
		return nil, fmt.Errorf("%s is larger than %d MB: refused", what, MaxDownload>>20)
	}
	return data, nil
}
