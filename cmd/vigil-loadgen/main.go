// Command vigil-loadgen drives a vigil server with events over HTTP
// (NDJSON posts) and syslog TCP, at a fixed rate or as fast as the server
// takes them, and reports what the server achieved: events accepted and
// processed per second, detection latency, queue depth and memory.
//
//	vigil-loadgen --url http://127.0.0.1:8080 --token-file DATA/admin.token \
//	    --events FILE.jsonl [--events …] --rate 50000 --duration 60s
//
// Events are taken from the given NDJSON files (or evtx_dump / OTRF JSON)
// in turn and cycled; each is sent as it is, so the server's rules see real
// events. With --syslog-tcp ADDR, that share (--syslog-share) of the rate
// goes to the syslog listener as RFC 5424 messages with octet counting.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	url, tokenFile, token string
	events                multi
	rate                  float64
	duration              time.Duration
	batch, conns          int
	syslogTCP             string
	syslogShare           float64
	drain                 time.Duration
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "server base `URL`")
	fs.StringVar(&o.tokenFile, "token-file", "", "`FILE` holding a token (e.g. DATA-DIR/admin.token); or env VIGIL_TOKEN")
	fs.Var(&o.events, "events", "NDJSON or JSON `FILE` of events to send, cycled (repeatable)")
	fs.Float64Var(&o.rate, "rate", 0, "events per second in total (0: as fast as the server accepts)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send")
	fs.IntVar(&o.batch, "batch", 500, "events per HTTP request")
	fs.IntVar(&o.conns, "conns", 4, "concurrent HTTP senders")
	fs.StringVar(&o.syslogTCP, "syslog-tcp", "", "also send syslog over TCP to `ADDR`")
	fs.Float64Var(&o.syslogShare, "syslog-share", 0.2, "share of the events sent over syslog when --syslog-tcp is given")
	fs.DurationVar(&o.drain, "drain", 2*time.Minute, "how long to wait for the server to process everything after sending")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.token = os.Getenv("VIGIL_TOKEN")
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "vigil-loadgen: %v\n", err)
			return 2
		}
		o.token = strings.TrimSpace(string(b))
	}
	if o.token == "" || len(o.events) == 0 {
		fmt.Fprintln(stderr, "vigil-loadgen: give --token-file (or VIGIL_TOKEN) and at least one --events FILE")
		return 2
	}
	lines, err := loadEvents(o.events)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-loadgen: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	r, err := drive(ctx, o, lines, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vigil-loadgen: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
	return 0
}

// loadEvents reads events as compact JSON lines.
func loadEvents(paths []string) ([][]byte, error) {
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %v", p, err)
			}
			var b bytes.Buffer
			if err := json.Compact(&b, raw); err != nil {
				return nil, err
			}
			if b.Len() > 0 && b.Bytes()[0] == '{' {
				out = append(out, b.Bytes())
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no JSON object in the --events files")
	}
	return out, nil
}

// result is the report.
type result struct {
	Sent            int64   `json:"sent"`
	Accepted        int64   `json:"accepted"`
	SyslogSent      int64   `json:"syslog_sent"`
	Refused503      int64   `json:"refused_503"`
	Errors          int64   `json:"errors"`
	SendSeconds     float64 `json:"send_seconds"`
	OfferedRate     float64 `json:"offered_per_second"`
	AcceptedRate    float64 `json:"accepted_per_second"`
	Processed       int64   `json:"processed"`
	ProcessedRate   float64 `json:"processed_per_second"` // over the time until everything was processed
	DrainSeconds    float64 `json:"drain_seconds"`
	Lost            int64   `json:"lost"`
	LatencyP50      float64 `json:"latency_p50_seconds_at_most"`
	LatencyP99      float64 `json:"latency_p99_seconds_at_most"`
	MaxQueued       int64   `json:"max_queued_batches"`
	MaxRSSBytes     float64 `json:"max_server_rss_bytes"`
	ServerDetection int64   `json:"detections"`
}

type stats struct {
	Received   int64 `json:"received"`
	Processed  int64 `json:"processed"`
	Queued     int64 `json:"queued"`
	Detections int64 `json:"detections"`
}

func drive(ctx context.Context, o options, lines [][]byte, stderr io.Writer) (*result, error) {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.conns * 2}}
	get := func(path string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", o.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+o.token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
		}
		return b, err
	}
	getStats := func() (stats, error) {
		var st stats
		b, err := get("/api/v1/stats")
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		return st, err
	}
	before, err := getStats()
	if err != nil {
		return nil, err
	}
	hist0, err := latencyHistogram(get)
	if err != nil {
		return nil, err
	}
	var r result
	var sent, accepted, refused, errs, syslogSent atomic.Int64
	var maxQueued atomic.Int64
	var maxRSS atomic.Uint64
	sendCtx, stopSend := context.WithTimeout(ctx, o.duration)
	defer stopSend()
	start := time.Now()

	httpRate, syslogRate := o.rate, 0.0
	if o.syslogTCP != "" {
		syslogRate = o.rate * o.syslogShare
		httpRate = o.rate - syslogRate
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	// Each HTTP sender owns a share of the rate.
	for c := range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body bytes.Buffer
			per := httpRate / float64(o.conns)
			t0 := time.Now()
			var mine int64
			for sendCtx.Err() == nil {
				body.Reset()
				for range o.batch {
					i := next.Add(1)
					body.Write(lines[int(i)%len(lines)])
					body.WriteByte('\n')
				}
				if per > 0 {
					due := t0.Add(time.Duration(float64(mine) / per * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						select {
						case <-sendCtx.Done():
							return
						case <-time.After(d):
						}
					}
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", o.url+"/api/v1/events", bytes.NewReader(body.Bytes()))
				req.Header.Set("Authorization", "Bearer "+o.token)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := client.Do(req)
				sent.Add(int64(o.batch))
				mine += int64(o.batch)
				if err != nil {
					errs.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var ir struct{ Accepted int64 }
				_ = json.Unmarshal(b, &ir)
				accepted.Add(ir.Accepted)
				switch {
				case resp.StatusCode == 503:
					refused.Add(1)
					time.Sleep(50 * time.Millisecond)
				case resp.StatusCode != 202:
					errs.Add(1)
				}
				_ = c
			}
		}()
	}
	if o.syslogTCP != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sendSyslog(sendCtx, o.syslogTCP, syslogRate, lines, &syslogSent); err != nil {
				fmt.Fprintf(stderr, "vigil-loadgen: syslog: %v\n", err)
				errs.Add(1)
			}
		}()
	}
	// Sample the server while sending and draining.
	sampleDone := make(chan struct{})
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampleDone:
				return
			case <-t.C:
			}
			if st, err := getStats(); err == nil && st.Queued > maxQueued.Load() {
				maxQueued.Store(st.Queued)
			}
			if b, err := get("/metrics"); err == nil {
				if v := metricValue(b, "process_resident_memory_bytes"); uint64(v) > maxRSS.Load() {
					maxRSS.Store(uint64(v))
				}
			}
		}
	}()
	last := time.Now()
	for {
		select {
		case <-sendCtx.Done():
		case <-time.After(time.Second):
			if time.Since(last) >= 5*time.Second {
				last = time.Now()
				st, _ := getStats()
				fmt.Fprintf(stderr, "%5.0fs sent %d accepted %d syslog %d processed %d queued %d\n", time.Since(start).Seconds(), sent.Load(), accepted.Load(), syslogSent.Load(), st.Processed-before.Processed, st.Queued)
			}
			continue
		}
		break
	}
	wg.Wait()
	sendTime := time.Since(start)
	want := accepted.Load() + syslogSent.Load()
	var st stats
	deadline := time.Now().Add(o.drain)
	for {
		st, err = getStats()
		if err != nil {
			return nil, err
		}
		if st.Processed-before.Processed >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := time.Since(start)
	close(sampleDone)
	hist1, err := latencyHistogram(get)
	if err != nil {
		return nil, err
	}
	r.Sent, r.Accepted, r.SyslogSent = sent.Load(), accepted.Load(), syslogSent.Load()
	r.Refused503, r.Errors = refused.Load(), errs.Load()
	r.SendSeconds = sendTime.Seconds()
	r.OfferedRate = float64(r.Sent+r.SyslogSent) / sendTime.Seconds()
	r.AcceptedRate = float64(r.Accepted+r.SyslogSent) / sendTime.Seconds()
	r.Processed = st.Processed - before.Processed
	r.ProcessedRate = float64(r.Processed) / total.Seconds()
	r.DrainSeconds = (total - sendTime).Seconds()
	r.Lost = want - r.Processed
	r.ServerDetection = st.Detections - before.Detections
	r.LatencyP50 = quantile(hist0, hist1, 0.50)
	r.LatencyP99 = quantile(hist0, hist1, 0.99)
	r.MaxQueued = maxQueued.Load()
	r.MaxRSSBytes = float64(maxRSS.Load())
	return &r, nil
}

// sendSyslog sends RFC 5424 messages with octet counting at rate per
// second, the message text being an event's JSON.
func sendSyslog(ctx context.Context, addr string, rate float64, lines [][]byte, sent *atomic.Int64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	w := bufio.NewWriterSize(c, 256<<10)
	host, _ := os.Hostname()
	t0 := time.Now()
	var n int64
	for ctx.Err() == nil {
		if rate > 0 {
			due := t0.Add(time.Duration(float64(n) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				w.Flush()
				time.Sleep(d)
			}
		}
		msg := fmt.Sprintf("<134>1 %s %s loadgen %d - - %s", time.Now().UTC().Format(time.RFC3339Nano), host, os.Getpid(), lines[int(n)%len(lines)])
		fmt.Fprintf(w, "%d %s", len(msg), msg)
		n++
		sent.Add(1)
	}
	return w.Flush()
}

// histogram is the cumulative bucket counts of the latency histogram.
type histogram map[float64]float64

func latencyHistogram(get func(string) ([]byte, error)) (histogram, error) {
	b, err := get("/metrics")
	if err != nil {
		return nil, err
	}
	h := histogram{}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, `vigil_detection_latency_seconds_bucket{le="`)
		if !ok {
			continue
		}
		le, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		bound := math.Inf(1)
		if le != "+Inf" {
			bound, _ = strconv.ParseFloat(le, 64)
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
		h[bound] = v
	}
	return h, nil
}

// quantile returns the upper bound of the bucket holding quantile q of the
// observations made between h0 and h1.
func quantile(h0, h1 histogram, q float64) float64 {
	var bounds []float64
	for b := range h1 {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	total := h1[math.Inf(1)] - h0[math.Inf(1)]
	if total <= 0 {
		return 0
	}
	for _, b := range bounds {
		if h1[b]-h0[b] >= q*total {
			if math.IsInf(b, 1) {
				return -1 // above the largest bucket
			}
			return b
		}
	}
	return -1
}

func metricValue(b []byte, name string) float64 {
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}
