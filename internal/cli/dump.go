package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-defense/vigil/evtx"
)

const dumpSynopsis = "[--format jsonl|json|xml] [--output FILE] [--meta] [--workers N] PATH..."

func runDump(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "dump", dumpSynopsis)
	format := fs.String("format", "jsonl", "output `format`: jsonl (one record per line, evtx_dump layout), json (indented), xml (one record per line, as Windows renders it)")
	output := fs.String("output", "", "write to `FILE` instead of standard output")
	meta := fs.Bool("meta", false, "add \"_source\" (file, chunk, offset, record_id) beside \"Event\" in JSON output")
	workers := fs.Int("workers", 0, "decode with `N` goroutines (0: one per CPU)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if err := oneOf("format", *format, "jsonl", "json", "xml"); err != nil {
		fmt.Fprintf(e.stderr, "vigil dump: %v\n", err)
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintln(e.stderr, "vigil dump: no PATH given: name .evtx files or folders to decode")
		fs.Usage()
		return exitUsage
	}
	files, err := expandPaths(paths, ".evtx")
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil dump: %v\n", err)
		return exitUsage
	}
	var out io.Writer = e.stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil dump: cannot write the output: %v\n", unwrapPathErr(err))
			return exitUsage
		}
		defer f.Close()
		out = f
	}
	d := &dumper{format: *format, meta: *meta}
	st, err := d.run(ctx, files, *workers, out, e.stderr)
	if *output != "" {
		if cerr := out.(*os.File).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	fmt.Fprintf(e.stderr, "vigil dump: %d files, %d records, %d errors, %d warnings, %s, %.1f MB/s\n",
		st.files, st.records, st.errors, st.warnings, st.elapsed.Round(time.Millisecond), st.mbps())
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil dump: %v\n", err)
		return exitPartial
	}
	if st.errors > 0 {
		return exitPartial
	}
	return exitOK
}

type dumpStats struct {
	files, records, errors, warnings int
	bytes                            int64
	elapsed                          time.Duration
}

func (s dumpStats) mbps() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.bytes) / 1e6 / s.elapsed.Seconds()
}

type dumper struct {
	format string
	meta   bool
	pool   sync.Pool
}

type dumpChunk struct {
	buf      *[]byte
	records  int
	msgs     []string // problems, already formatted
	errors   int
	warnings int
	file     bool // first unit of a file that opened
	size     int64
}

func (d *dumper) run(ctx context.Context, files []string, workers int, out, stderr io.Writer) (dumpStats, error) {
	start := time.Now()
	var st dumpStats
	w := bufio.NewWriterSize(out, 1<<20)
	err := evtx.Scan(ctx, files, workers, d.work, func(c *dumpChunk) error {
		for _, m := range c.msgs {
			fmt.Fprintln(stderr, m)
		}
		st.records += c.records
		st.errors += c.errors
		st.warnings += c.warnings
		if c.file {
			st.files++
			st.bytes += c.size
		}
		if c.buf == nil {
			return nil
		}
		_, err := w.Write(*c.buf)
		*c.buf = (*c.buf)[:0]
		d.pool.Put(c.buf)
		return err
	})
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	st.elapsed = time.Since(start)
	return st, err
}

func (d *dumper) work(u *evtx.Unit) *dumpChunk {
	res := &dumpChunk{}
	problem := func(err error) {
		var e *evtx.Error
		if errors.As(err, &e) && !e.Skipped {
			res.warnings++
			res.msgs = append(res.msgs, "warning: "+err.Error())
			return
		}
		res.errors++
		res.msgs = append(res.msgs, "error: "+err.Error())
	}
	if u.First && u.File != nil {
		res.file = true
		res.size = u.File.Size()
		for _, p := range u.File.Problems() {
			problem(p)
		}
	}
	if u.Err != nil {
		problem(u.Err)
		return res
	}
	c := u.Chunk
	if c == nil {
		return res
	}
	for _, p := range c.Problems() {
		problem(p)
	}
	bp, _ := d.pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 256<<10)
		bp = &b
	}
	buf := *bp
	var r evtx.Record
	var tmp []byte
	for {
		more, err := c.Next(&r)
		if !more {
			break
		}
		if err != nil {
			problem(err)
			continue
		}
		res.records++
		switch d.format {
		case "xml":
			buf = r.AppendXML(buf)
		case "json":
			tmp = d.appendJSON(tmp[:0], &r, u)
			buf = appendIndented(buf, tmp)
		default:
			buf = d.appendJSON(buf, &r, u)
		}
		buf = append(buf, '\n')
	}
	*bp = buf
	res.buf = bp
	return res
}

// appendJSON writes the record in evtx_dump layout, with the optional
// "_source" metadata beside "Event".
func (d *dumper) appendJSON(dst []byte, r *evtx.Record, u *evtx.Unit) []byte {
	start := len(dst)
	dst = r.AppendJSON(dst)
	if !d.meta {
		return dst
	}
	dst = dst[:len(dst)-1] // drop the closing brace
	if len(dst) > start+1 {
		dst = append(dst, ',')
	}
	dst = append(dst, `"_source":{"file":`...)
	dst = strconv.AppendQuote(dst, u.Path)
	dst = append(dst, `,"chunk":`...)
	dst = strconv.AppendInt(dst, int64(u.Index), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	dst = append(dst, `,"record_id":`...)
	dst = strconv.AppendUint(dst, r.ID, 10)
	return append(dst, '}', '}')
}

// appendIndented writes compact JSON indented by two spaces, as evtx_dump's
// json output is.
func appendIndented(dst, compact []byte) []byte {
	b := bytes.NewBuffer(dst)
	if err := json.Indent(b, compact, "", "  "); err != nil {
		return append(dst, compact...)
	}
	return b.Bytes()
}
