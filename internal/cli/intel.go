package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/feeds"
	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/taxii"
)

func runIntel(ctx context.Context, e *env, args []string) int {
	return dispatch(ctx, e, "intel", "[arguments]", []subcommand{
		{"lookup", "load feeds and look values up: type, matching indicators, warninglists", runIntelLookup},
		{"update", "fetch the feeds of a configuration file into the cache folder", runIntelUpdate},
		{"serve", "share indicators and sightings with TAXII 2.1 clients", runIntelServe},
	}, args)
}

// stringList is a repeatable string flag.
type intelPaths []string

func (p *intelPaths) String() string     { return strings.Join(*p, ",") }
func (p *intelPaths) Set(s string) error { *p = append(*p, s); return nil }

type matchJSON struct {
	Source       string   `json:"source"`
	ID           string   `json:"id"`
	Type         string   `json:"type"`
	Indicator    string   `json:"indicator"`
	Confidence   int      `json:"confidence"`
	Level        string   `json:"level"`
	TLP          string   `json:"tlp,omitempty"`
	Labels       []string `json:"labels,omitempty"`
	Attack       []string `json:"attack,omitempty"`
	ValidFrom    string   `json:"valid_from,omitempty"`
	ValidUntil   string   `json:"valid_until,omitempty"`
	Note         string   `json:"note,omitempty"`
	Description  string   `json:"description,omitempty"`
	Path         string   `json:"path,omitempty"`
	Warninglists []string `json:"warninglists,omitempty"`
}

type lookupJSON struct {
	Value        string      `json:"value"`
	Type         string      `json:"type"`
	Matches      []matchJSON `json:"matches"`
	Warninglists []string    `json:"warninglists"`
}

// maxErrorsPerFile bounds the feed errors printed for one file.
const maxErrorsPerFile = 10

func runIntelLookup(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "intel lookup", "[--feed PATH]... [--format F] [--type T] [--json] VALUE...")
	var feeds intelPaths
	fs.Var(&feeds, "feed", "feed file or folder (repeatable): STIX, MISP event or feed, CSV, plain list, CISA KEV, MISP warninglists; default: the cache folder of 'vigil intel update'")
	asJSON := fs.Bool("json", false, `print one {"value":…,"type":…,"matches":[…],"warninglists":[…]} object per line`)
	format := fs.String("format", "", "`format` of every feed (stix, misp, misp-feed, csv, text, kev, warninglist, json-list); default: recognised from content")
	typ := fs.String("type", "", "`type` of every value in plain and CSV feeds (ipv4, domain, url, sha256, …); default: recognised from shape")
	quiet := fs.Bool("quiet", false, "do not print feed errors and load statistics")
	values, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(values) == 0 {
		fmt.Fprintln(e.stderr, "vigil intel lookup: no VALUE given: name IP addresses, domains, URLs, hashes, e-mail addresses or CVE ids to look up")
		fs.Usage()
		return exitUsage
	}
	if len(feeds) == 0 {
		dir, err := intelCacheDir()
		if err == nil {
			_, err = os.Stat(dir)
		}
		if err != nil {
			fmt.Fprintln(e.stderr, "vigil intel lookup: no --feed given and no feed cache (run 'vigil intel update' first, or name feed files and folders with --feed)")
			return exitUsage
		}
		feeds = append(feeds, dir)
	}
	opts := intel.LoadOptions{Format: intel.Format(*format)}
	if *typ != "" {
		t, ok := intel.ParseType(*typ)
		if !ok {
			fmt.Fprintf(e.stderr, "vigil intel lookup: --type %q is not an indicator type (ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, sha512, imphash, filename, cve)\n", *typ)
			return exitUsage
		}
		opts.Type = t
	}
	for _, p := range feeds {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(e.stderr, "vigil intel lookup: --feed %s: %v\n", p, unwrapPathErr(err))
			return exitUsage
		}
	}
	start := time.Now()
	b := intel.NewBuilder()
	for _, p := range feeds {
		b.LoadPath(p, opts)
	}
	idx, werrs := b.Build()
	errs := append(b.Errors(), werrs...)
	if !*quiet {
		printFeedErrors(e.stderr, errs)
		var skipped, files int
		for _, st := range b.Stats() {
			skipped += st.SkippedTotal()
			files++
		}
		fmt.Fprintf(e.stderr, "loaded %d indicators and %d warninglists from %d files in %s (%d entries skipped as not matchable inline, %d errors)\n",
			idx.Len(), len(idx.WarninglistNames()), files, time.Since(start).Round(time.Millisecond), skipped, len(errs))
	}
	for _, v := range values {
		t, ms := idx.Lookup(v)
		wl := idx.Warninglists(v)
		if *asJSON {
			out := lookupJSON{Value: v, Type: t.String(), Matches: []matchJSON{}, Warninglists: wl}
			if out.Warninglists == nil {
				out.Warninglists = []string{}
			}
			for _, m := range ms {
				out.Matches = append(out.Matches, toMatchJSON(m))
			}
			bs, _ := json.Marshal(out)
			fmt.Fprintf(e.stdout, "%s\n", bs)
			continue
		}
		fmt.Fprintf(e.stdout, "%s  (%s): %d matches\n", v, t, len(ms))
		if len(wl) > 0 {
			fmt.Fprintf(e.stdout, "  probably benign: on warninglists %s\n", strings.Join(wl, "; "))
		}
		for _, m := range ms {
			ind := m.Indicator
			fmt.Fprintf(e.stdout, "  %-6s %s  source=%s id=%s confidence=%d", m.Level(), ind.Type.String()+" "+ind.Value, ind.Source, ind.ID, ind.Confidence)
			if ind.TLP != "" {
				fmt.Fprintf(e.stdout, " tlp=%s", ind.TLP)
			}
			if len(ind.Labels) > 0 {
				fmt.Fprintf(e.stdout, " labels=%s", strings.Join(ind.Labels, ","))
			}
			if len(ind.Attack) > 0 {
				fmt.Fprintf(e.stdout, " attack=%s", strings.Join(ind.Attack, ","))
			}
			if !ind.ValidUntil.IsZero() && ind.ValidUntil.Before(time.Now()) {
				fmt.Fprintf(e.stdout, " expired=%s", ind.ValidUntil.Format(time.DateOnly))
			}
			fmt.Fprintln(e.stdout)
			if ind.Note != "" {
				fmt.Fprintf(e.stdout, "         note: %s\n", ind.Note)
			}
		}
	}
	if len(errs) > 0 {
		return exitPartial
	}
	return exitOK
}

func toMatchJSON(m intel.Match) matchJSON {
	ind := m.Indicator
	j := matchJSON{
		Source: ind.Source, ID: ind.ID, Type: ind.Type.String(), Indicator: ind.Value, Confidence: ind.Confidence,
		Level: m.Level(), TLP: ind.TLP, Labels: ind.Labels, Attack: ind.Attack, Note: ind.Note,
		Description: ind.Description, Path: ind.Path, Warninglists: m.Warninglists,
	}
	if !ind.ValidFrom.IsZero() {
		j.ValidFrom = ind.ValidFrom.UTC().Format(time.RFC3339)
	}
	if !ind.ValidUntil.IsZero() {
		j.ValidUntil = ind.ValidUntil.UTC().Format(time.RFC3339)
	}
	return j
}

// printFeedErrors prints at most maxErrorsPerFile errors per file and how
// many more there were.
func printFeedErrors(w io.Writer, errs []error) {
	perFile := map[string]int{}
	var order []string
	for _, err := range errs {
		p := ""
		if le, ok := err.(*intel.LoadError); ok {
			p = le.Path
		}
		if perFile[p] == 0 {
			order = append(order, p)
		}
		perFile[p]++
		if perFile[p] <= maxErrorsPerFile {
			fmt.Fprintf(w, "warning: %v\n", err)
		}
	}
	sort.Strings(order)
	for _, p := range order {
		if n := perFile[p] - maxErrorsPerFile; n > 0 {
			fmt.Fprintf(w, "warning: %s: %d more errors\n", p, n)
		}
	}
}

// intelCacheDir returns the default feed cache: <data dir>/intel.
func intelCacheDir() (string, error) {
	d, err := dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "intel"), nil
}

// defaultFeedsConfig returns the default configuration file:
// <user config dir>/vigil/feeds.yml.
func defaultFeedsConfig() string {
	d, err := os.UserConfigDir()
	if err != nil {
		return "feeds.yml"
	}
	return filepath.Join(d, "vigil", "feeds.yml")
}

func runIntelUpdate(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "intel update", "[--config FILE] [--dir DIR] [--force]")
	config := fs.String("config", defaultFeedsConfig(), "feeds configuration `FILE` (YAML; see 'go doc ./internal/feeds')")
	dir := fs.String("dir", "", "cache folder `DIR` (default: <data dir>/intel)")
	force := fs.Bool("force", false, "update feeds checked less than their refresh interval ago")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(e.stderr, "vigil intel update: unexpected argument %q: feeds are listed in the --config file\n", pos[0])
		return exitUsage
	}
	cfg, err := feeds.LoadConfig(*config)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			fmt.Fprintf(e.stderr, "vigil intel update: no feeds configuration at %s: write one (see 'go doc ./internal/feeds' and internal/feeds/testdata/feeds.yml) or pass --config FILE\n", *config)
			return exitUsage
		}
		var ce feeds.ConfigErrors
		if errors.As(err, &ce) {
			for _, c := range ce {
				fmt.Fprintf(e.stderr, "%v\n", c)
			}
			fmt.Fprintf(e.stderr, "vigil intel update: %d problems in %s; no feed was updated\n", len(ce), *config)
			return exitUsage
		}
		fmt.Fprintf(e.stderr, "vigil intel update: %v\n", unwrapPathErr(err))
		return exitUsage
	}
	if *dir == "" {
		if *dir, err = intelCacheDir(); err != nil {
			fmt.Fprintf(e.stderr, "vigil intel update: %v\n", err)
			return exitUsage
		}
	}
	u := &feeds.Updater{Dir: *dir, Force: *force}
	width := 0
	for _, f := range cfg.Feeds {
		width = max(width, len(f.Name))
	}
	counts := map[feeds.Status]int{}
	results := u.Update(ctx, cfg, func(r feeds.Result) {
		counts[r.Status]++
		status := r.Status.String()
		fmt.Fprintf(e.stdout, "%-*s  %-12s  %9s  %7d indicators  %s", width, r.Feed, status, formatBytes(r.Bytes), r.Indicators, r.Duration.Round(time.Millisecond))
		switch {
		case r.Status == feeds.Failed && r.Path != "":
			fmt.Fprintf(e.stdout, "  %v; kept the copy of %s", r.Err, r.Updated.Local().Format("2006-01-02 15:04"))
		case r.Status == feeds.Failed:
			fmt.Fprintf(e.stdout, "  %v; no copy yet", r.Err)
		case len(r.Errors) > 0:
			fmt.Fprintf(e.stdout, "  %d bad entries skipped", len(r.Errors))
		}
		fmt.Fprintln(e.stdout)
		for _, w := range r.Warnings {
			fmt.Fprintf(e.stderr, "warning: %s: %s\n", r.Feed, w)
		}
		printFeedErrors(e.stderr, r.Errors)
	})
	fmt.Fprintf(e.stderr, "%d feeds: %d updated, %d not modified, %d not due, %d failed; cache %s\n",
		len(results), counts[feeds.Updated], counts[feeds.NotModified], counts[feeds.NotDue], counts[feeds.Failed], *dir)
	fmt.Fprintf(e.stderr, "use it with: vigil hunt --intel %s PATH... or vigil intel lookup --feed %s VALUE...\n", *dir, *dir)
	if counts[feeds.Failed] > 0 {
		return exitPartial
	}
	return exitOK
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func runIntelServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "intel serve", "--listen ADDR --feed PATH... --token-file FILE [--max-tlp amber] [--org NAME] [--tls-cert F --tls-key F] [--detections FILE.jsonl]")
	listen := fs.String("listen", "127.0.0.1:9400", "listen on `ADDR` (host:port)")
	var feedPaths intelPaths
	fs.Var(&feedPaths, "feed", "feed file or folder to serve (repeatable); default: the cache folder of 'vigil intel update'")
	tokenFile := fs.String("token-file", "", "bearer tokens clients must present (`FILE`: one a line, or sha256:<hex>; '#' comments)")
	noAuth := fs.Bool("insecure-no-auth", false, "serve without authentication (only on a trusted network)")
	maxTLP := fs.String("max-tlp", "amber", "serve nothing marked above this `TLP` (clear, green, amber, amber+strict, red)")
	org := fs.String("org", "vigil", "`NAME` of the organisation publishing the collections")
	tlsCert := fs.String("tls-cert", "", "TLS certificate `FILE` (PEM); with --tls-key, serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS key `FILE` (PEM)")
	detections := fs.String("detections", "", "hunt jsonl output (`FILE`): its threat-intelligence detections become sightings")
	refresh := fs.Duration("refresh", time.Minute, "check the feeds and detections for changes every `duration`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(e.stderr, "vigil intel serve: unexpected argument %q: name feeds with --feed\n", pos[0])
		return exitUsage
	}
	if *tokenFile == "" && !*noAuth {
		fmt.Fprintf(e.stderr, "vigil intel serve: refusing to serve without authentication: anyone who can reach %s could read the indicators (up to TLP:%s) and this organisation's sightings. Give --token-file FILE (one bearer token a line), or --insecure-no-auth on a trusted network only\n", *listen, strings.ToUpper(*maxTLP))
		return exitUsage
	}
	if *tokenFile != "" && *noAuth {
		fmt.Fprintln(e.stderr, "vigil intel serve: --token-file and --insecure-no-auth contradict each other: give one")
		return exitUsage
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(e.stderr, "vigil intel serve: give both --tls-cert and --tls-key, or neither")
		return exitUsage
	}
	if _, ok := taxii.TLPRank(*maxTLP); !ok {
		fmt.Fprintf(e.stderr, "vigil intel serve: --max-tlp %q: want clear, green, amber, amber+strict or red\n", *maxTLP)
		return exitUsage
	}
	if *refresh <= 0 {
		fmt.Fprintln(e.stderr, "vigil intel serve: --refresh must be positive")
		return exitUsage
	}
	if len(feedPaths) == 0 {
		dir, err := intelCacheDir()
		if err == nil {
			_, err = os.Stat(dir)
		}
		if err != nil {
			fmt.Fprintln(e.stderr, "vigil intel serve: no --feed given and no feed cache (run 'vigil intel update' first, or name feed files and folders with --feed)")
			return exitUsage
		}
		feedPaths = append(feedPaths, dir)
	}
	for _, p := range feedPaths {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(e.stderr, "vigil intel serve: --feed %s: %v\n", p, unwrapPathErr(err))
			return exitUsage
		}
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil)).With("component", "intel-serve")
	var auth taxii.Authenticator
	if *tokenFile != "" {
		f, err := os.Open(*tokenFile)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil intel serve: --token-file: %v\n", unwrapPathErr(err))
			return exitUsage
		}
		ba, err := taxii.ReadTokens(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil intel serve: --token-file %s: %v\n", *tokenFile, err)
			return exitUsage
		}
		auth = ba
	}
	src := &reloadingIndex{paths: feedPaths}
	if n, errs := src.reload(); n == 0 && len(errs) > 0 {
		printFeedErrors(e.stderr, errs)
		fmt.Fprintf(e.stderr, "vigil intel serve: no indicator could be loaded from %s\n", feedPaths.String())
		return exitPartial
	} else if len(errs) > 0 {
		printFeedErrors(e.stderr, errs)
	}
	opts := taxii.ServerOptions{
		Config:       taxii.Config{Auth: auth, AllowAnonymous: auth == nil, Logger: logger},
		Indicators:   src,
		Organisation: *org,
		MaxTLP:       *maxTLP,
	}
	if *detections != "" {
		if _, err := os.Stat(*detections); err != nil {
			fmt.Fprintf(e.stderr, "vigil intel serve: --detections %s: %v\n", *detections, unwrapPathErr(err))
			return exitUsage
		}
		opts.Detections = &jsonlDetections{path: *detections, logger: logger}
	}
	srv, err := taxii.NewVigilServer(opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil intel serve: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil intel serve: cannot listen on %s: %v\n", *listen, err)
		return exitUsage
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	logger.Info("serving TAXII 2.1", "discovery", scheme+"://"+ln.Addr().String()+"/taxii2/",
		"indicators", src.current().Len(), "feeds", feedPaths.String(), "auth", auth != nil)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owner: this function; stops with ctx
		defer wg.Done()
		watchFeeds(ctx, src, srv, *detections, *refresh, logger)
	}()
	serveErr := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			serveErr <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	code := exitOK
	select {
	case <-ctx.Done():
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := hs.Shutdown(sctx); err != nil {
			logger.Warn("shutdown", "err", err)
		}
		scancel()
		<-serveErr
		logger.Info("stopped")
	case err := <-serveErr:
		fmt.Fprintf(e.stderr, "vigil intel serve: %v\n", err)
		code = exitPartial
	}
	cancel()
	wg.Wait()
	return code
}

// reloadingIndex is the indicator source of intel serve: the index of the
// feed paths, replaced as a whole when they change.
type reloadingIndex struct {
	paths []string
	idx   atomic.Pointer[intel.Index]
}

var _ taxii.IndicatorSource = (*reloadingIndex)(nil)

func (r *reloadingIndex) reload() (int, []error) {
	idx, errs := intel.LoadPaths(r.paths)
	r.idx.Store(idx)
	return idx.Len(), errs
}

func (r *reloadingIndex) current() *intel.Index { return r.idx.Load() }

// Indicators implements taxii.IndicatorSource.
func (r *reloadingIndex) Indicators() []intel.Indicator { return r.idx.Load().Indicators() }

// watchFeeds reloads the feeds and refreshes the collections when the
// feed files or the detections file change, checking every interval.
func watchFeeds(ctx context.Context, src *reloadingIndex, srv *taxii.Server, detections string, every time.Duration, logger *slog.Logger) {
	feedSum := fingerprint(src.paths)
	detSum := ""
	if detections != "" {
		detSum = fingerprint([]string{detections})
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fs := fingerprint(src.paths)
		ds := ""
		if detections != "" {
			ds = fingerprint([]string{detections})
		}
		if fs == feedSum && ds == detSum {
			continue
		}
		if fs != feedSum {
			n, errs := src.reload()
			logger.Info("feeds changed: reloaded", "indicators", n, "errors", len(errs))
			for i, err := range errs {
				if i == maxErrorsPerFile {
					logger.Warn("more feed errors", "count", len(errs)-i)
					break
				}
				logger.Warn("feed error", "err", err)
			}
		}
		feedSum, detSum = fs, ds
		if err := srv.Refresh(ctx); err != nil && ctx.Err() == nil {
			logger.Error("refresh", "err", err)
		}
	}
}

// fingerprint summarises the names, sizes and modification times of the
// files under paths (hidden files, such as the feed cache's state, count
// too: they change with the copies).
func fingerprint(paths []string) string {
	h := sha256.New()
	for _, p := range paths {
		filepath.WalkDir(p, func(path string, d iofs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if fi, err := d.Info(); err == nil {
				fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, fi.Size(), fi.ModTime().UnixNano())
			}
			return nil
		})
	}
	return string(h.Sum(nil))
}

// jsonlDetections reads the threat-intelligence detections of a hunt jsonl
// output: the detections whose rule_id starts with "intel:".
type jsonlDetections struct {
	path   string
	logger *slog.Logger
}

var _ taxii.DetectionSource = (*jsonlDetections)(nil)

// detectionLine is the part of a hunt jsonl line sightings need.
type detectionLine struct {
	Time      time.Time                  `json:"time"`
	RuleID    string                     `json:"rule_id"`
	Count     int                        `json:"count"`
	FirstTime time.Time                  `json:"first_time"`
	LastTime  time.Time                  `json:"last_time"`
	Fields    map[string]json.RawMessage `json:"fields"`
}

// Detections implements taxii.DetectionSource. Lines that are not
// detections are reported in the log and skipped.
func (s *jsonlDetections) Detections(ctx context.Context) ([]detect.Detection, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []detect.Detection
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line, bad := 0, 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if !bytes.Contains(b, []byte(`"intel:`)) {
			continue
		}
		var dl detectionLine
		if err := json.Unmarshal(b, &dl); err != nil {
			if bad++; bad <= maxErrorsPerFile {
				s.logger.Warn("detections: line skipped", "file", s.path, "line", line, "err", err)
			}
			continue
		}
		if !strings.HasPrefix(dl.RuleID, "intel:") {
			continue
		}
		d := detect.Detection{Time: dl.Time, RuleID: dl.RuleID, Count: dl.Count, FirstTime: dl.FirstTime, LastTime: dl.LastTime}
		names := make([]string, 0, len(dl.Fields))
		for k := range dl.Fields {
			if strings.HasPrefix(k, "intel.") {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			var v string
			if json.Unmarshal(dl.Fields[k], &v) == nil {
				d.Fields = append(d.Fields, event.Field{Name: k, Value: v})
				continue
			}
			var vs []string
			if json.Unmarshal(dl.Fields[k], &vs) == nil {
				for _, v := range vs {
					d.Fields = append(d.Fields, event.Field{Name: k, Value: v})
				}
			}
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s: line %d: %w", s.path, line+1, err)
	}
	if bad > maxErrorsPerFile {
		s.logger.Warn("detections: more lines skipped", "file", s.path, "count", bad-maxErrorsPerFile)
	}
	return out, ctx.Err()
}
