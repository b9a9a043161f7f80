package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vigil-defense/vigil/internal/intel"
)

func runIntel(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "Usage: vigil intel lookup|update|serve [flags] [arguments]")
		fmt.Fprintln(e.stderr, "  lookup  load feeds and look values up: type, matching indicators, warninglists")
		return exitUsage
	}
	switch args[0] {
	case "lookup":
		return runIntelLookup(ctx, e, args[1:])
	case "update", "serve", "sightings", "taxii":
		fmt.Fprintf(e.stderr, "vigil intel %s: not implemented yet (feeds are read from files and folders: vigil intel lookup --feed PATH VALUE...)\n", args[0])
		return exitUsage
	}
	fmt.Fprintf(e.stderr, "vigil intel: unknown subcommand %q: use lookup\n", args[0])
	return exitUsage
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
	fs.Var(&feeds, "feed", "feed file or folder (repeatable): STIX, MISP event or feed, CSV, plain list, CISA KEV, MISP warninglists")
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
