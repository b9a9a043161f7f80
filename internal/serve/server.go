package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-defense/vigil/internal/auth"
	"github.com/vigil-defense/vigil/internal/bus"
	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/store"
)

// Role says which parts of the server a process runs.
type Role string

// Roles.
const (
	RoleAll    Role = "all"    // everything (single node)
	RoleIngest Role = "ingest" // listeners and POST /api/v1/events
	RoleWorker Role = "worker" // detection workers
	RoleAPI    Role = "api"    // the read and admin API
)

// ParseRole checks a --role value.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAll, RoleIngest, RoleWorker, RoleAPI:
		return r, nil
	}
	return "", fmt.Errorf("--role %q: use all, ingest, worker or api", s)
}

func (r Role) ingest() bool { return r == RoleAll || r == RoleIngest }
func (r Role) worker() bool { return r == RoleAll || r == RoleWorker }
func (r Role) api() bool    { return r == RoleAll || r == RoleAPI }

// NeedsRules reports whether the role runs detection or lists rules.
func (r Role) NeedsRules() bool { return r.worker() || r.api() }

// Options configure a Server. Zero values take the documented defaults.
type Options struct {
	DataDir string // required: database, queue files, admin.token
	Role    Role   // default RoleAll

	HTTPAddr  string // default 127.0.0.1:8080; "off" disables
	TLSCert   string // with TLSKey: serve HTTPS (and syslog over TLS)
	TLSKey    string
	SyslogUDP string // "" or "off": no listener
	SyslogTCP string
	SyslogTLS string

	NATS       string // external NATS URL; "" embeds a server
	NATSStream string // JetStream stream name; default bus.DefaultStream
	DB         string // "" (SQLite in DataDir), sqlite:PATH or postgres://…

	Engine  *detect.Engine // compiled rules (required for worker and api roles)
	Intel   *intel.Index   // threat intelligence matched by workers; nil for none
	Workers int            // detection goroutines; default one per CPU

	MaxBody       int64 // bytes of one events request; default 64 MiB
	MaxMessage    int   // bytes of one syslog message; default 64 KiB
	MaxQueueBytes int64 // bytes of queued batches before ingest refuses; default 1 GiB
	SyncAlways    bool  // fsync every queue write (embedded queue)
	// AckWait is how long a worker may hold a batch before the queue gives
	// it to another worker (a dead worker's batches wait this long);
	// default 30 s.
	AckWait   time.Duration
	Retention store.Retention

	// Tail lists files to follow (JSON lines or syslog text).
	Tail []string
	// DropDir is a folder watched for .evtx (and JSON) files; default
	// DataDir/drop; "off" disables.
	DropDir string

	Logger *slog.Logger
}

// Server is a running vigil serve process.
type Server struct {
	opts    Options
	log     *slog.Logger
	store   *store.Store
	bus     *bus.Bus
	pub     publisher
	auth    *auth.Verifier
	metrics *metrics
	counts  *ingestCounts
	worker  *worker

	httpLn   net.Listener
	httpAddr string
	udp      net.PacketConn
	tcpLns   []net.Listener
	ready    chan struct{}
}

func (o *Options) defaults() error {
	if o.DataDir == "" {
		return errors.New("no data directory: give --data-dir DIR (it holds the database, the queue and admin.token)")
	}
	if o.Role == "" {
		o.Role = RoleAll
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:8080"
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = defaultMaxBody
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 64 << 10
	}
	if o.DropDir == "" {
		o.DropDir = filepath.Join(o.DataDir, "drop")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	if o.SyslogTLS != "" && o.SyslogTLS != "off" && o.TLSCert == "" {
		return errors.New("--syslog-tls needs --tls-cert and --tls-key")
	}
	if (o.Role.worker() || o.Role.api()) && o.Engine == nil {
		return errors.New("no rules compiled")
	}
	return nil
}

// New opens the store and the queue and prepares the listeners, so that
// every misconfiguration is reported before Run. Close it if Run is not
// called.
func New(ctx context.Context, o Options) (*Server, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	s := &Server{opts: o, log: o.Logger, counts: newIngestCounts(), ready: make(chan struct{})}
	var err error
	if s.store, err = store.Open(ctx, o.DB, o.DataDir); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if s.bus, err = bus.Open(ctx, bus.Options{URL: o.NATS, DataDir: o.DataDir, MaxBytes: o.MaxQueueBytes, SyncAlways: o.SyncAlways, AckWait: o.AckWait, Stream: o.NATSStream}); err != nil {
		s.store.Close()
		return nil, fmt.Errorf("queue: %w", err)
	}
	s.pub = s.bus
	s.auth = auth.NewVerifier(s.store.Token)
	s.auth.OnVerified(func(ctx context.Context, t auth.Token) {
		// At most about once a minute per token: record its last use.
		if err := s.store.TouchToken(ctx, t.ID, time.Now()); err != nil {
			s.log.Warn("recording a token's use failed", "token", t.ID, "error", err)
		}
	})
	s.metrics = newMetrics(func(ctx context.Context) (float64, float64, bool) {
		w, f, err := s.bus.Pending(ctx)
		return float64(w), float64(f), err == nil
	})
	if err := s.ensureAdminToken(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.listen(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ensureAdminToken creates the first admin token when there is none and
// writes it to DataDir/admin.token (mode 0600).
func (s *Server) ensureAdminToken(ctx context.Context) error {
	toks, err := s.store.Tokens(ctx)
	if err != nil {
		return fmt.Errorf("reading tokens: %w", err)
	}
	if len(toks) > 0 {
		return nil
	}
	secret, t, err := auth.NewToken("admin", auth.RoleAdmin)
	if err != nil {
		return err
	}
	path := filepath.Join(s.opts.DataDir, "admin.token")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the admin token: %w", err)
	}
	if err := s.store.PutToken(ctx, t); err != nil {
		return fmt.Errorf("storing the admin token: %w", err)
	}
	s.log.Info("created the first admin token", "file", path, "id", t.ID)
	return nil
}

// listen opens the configured listeners.
func (s *Server) listen() error {
	o := s.opts
	if o.HTTPAddr != "off" {
		ln, err := net.Listen("tcp", o.HTTPAddr)
		if err != nil {
			return fmt.Errorf("--http %s: %w", o.HTTPAddr, err)
		}
		if o.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
			if err != nil {
				ln.Close()
				return fmt.Errorf("--tls-cert/--tls-key: %w", err)
			}
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
		s.httpLn = ln
		s.httpAddr = ln.Addr().String()
	}
	if !o.Role.ingest() {
		return nil
	}
	return s.listenSyslog()
}

// HTTPAddr returns the address the HTTP API listens on ("" when off).
func (s *Server) HTTPAddr() string { return s.httpAddr }

// Ready is closed once Run has started every component.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Close releases what New opened; Run calls it on return.
func (s *Server) Close() error {
	if s.httpLn != nil {
		s.httpLn.Close()
	}
	s.closeSyslog()
	if s.bus != nil {
		s.bus.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	return nil
}

// route is one HTTP route: who may call it and which roles serve it.
type route struct {
	method, path string
	need         auth.Role // "" for no authentication
	serves       func(Role) bool
	handler      http.HandlerFunc
}

func always(Role) bool { return true }

// routes lists every route; the OpenAPI document describes each (a test
// holds them together).
func (s *Server) routes() []route {
	metricsHandler := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP
	return []route{
		{"GET", "/healthz", "", always, s.handleHealth},
		{"GET", "/metrics", auth.RoleViewer, always, metricsHandler},
		{"GET", "/api/openapi.json", auth.RoleViewer, always, s.handleOpenAPI},
		{"POST", "/api/v1/events", auth.RoleIngest, Role.ingest, s.handleEvents},
		{"GET", "/api/v1/stats", auth.RoleViewer, Role.api, s.handleStats},
		{"GET", "/api/v1/detections", auth.RoleViewer, Role.api, s.handleDetections},
		{"GET", "/api/v1/rules", auth.RoleViewer, Role.api, s.handleRules},
		{"PATCH", "/api/v1/rules/{id}", auth.RoleAnalyst, Role.api, s.handleRuleUpdate},
		{"GET", "/api/v1/tokens", auth.RoleAdmin, Role.api, s.handleTokens},
		{"POST", "/api/v1/tokens", auth.RoleAdmin, Role.api, s.handleTokenCreate},
		{"DELETE", "/api/v1/tokens/{id}", auth.RoleAdmin, Role.api, s.handleTokenRevoke},
	}
}

// Handler returns the HTTP routes of the process's role.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		if !rt.serves(s.opts.Role) {
			continue
		}
		h := s.count(rt.path, rt.handler)
		if rt.need != "" {
			h = s.guard(rt.path, rt.need, rt.handler)
		}
		mux.HandleFunc(rt.method+" "+rt.path, h)
	}
	mux.HandleFunc("/", s.count("other", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no route %s %s in this process (role %s): see /api/openapi.json", r.Method, r.URL.Path, s.opts.Role)
	}))
	return logRequests(s.log, mux)
}

// Run runs the process's components until ctx ends, then shuts down
// gracefully: listeners stop, buffered events are queued, workers finish
// the batches they hold. It closes the server.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	ictx, stopIngest := context.WithCancel(ctx)
	defer stopIngest()
	var ingestWG, workWG sync.WaitGroup
	errc := make(chan error, 8)
	var httpSrv *http.Server
	if s.httpLn != nil {
		httpSrv = &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
		go func() {
			if err := httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("HTTP server: %w", err)
			}
		}()
		scheme := "http"
		if s.opts.TLSCert != "" {
			scheme = "https"
		}
		s.log.Info("API listening", "url", scheme+"://"+s.httpAddr, "role", s.opts.Role)
	}
	if s.opts.Role.ingest() {
		s.startSyslog(ictx, &ingestWG)
		s.startTail(ictx, &ingestWG)
		s.startDrop(ictx, &ingestWG)
	}
	wctx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	if s.opts.Role.worker() {
		s.worker = &worker{engine: s.opts.Engine, intel: s.opts.Intel, store: s.store, log: s.log, metrics: s.metrics, disabled: &ruleSwitch{}}
		workWG.Add(2)
		go func() {
			defer workWG.Done()
			s.worker.refreshRules(wctx, s.store.DisabledRules, 2*time.Second)
		}()
		go func() {
			defer workWG.Done()
			if err := s.bus.Consume(wctx, s.opts.Workers, maxGroup, s.worker.handle); err != nil && wctx.Err() == nil {
				errc <- fmt.Errorf("workers: %w", err)
			}
		}()
		s.log.Info("detection workers started", "workers", s.opts.Workers, "rules", len(s.opts.Engine.Programs()))
	}
	var maintWG sync.WaitGroup
	maintWG.Add(1)
	go func() {
		defer maintWG.Done()
		s.maintain(ictx)
	}()
	close(s.ready)
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("stopping after an error", "error", runErr)
	}
	s.log.Info("shutting down: stopping ingest")
	stopIngest()
	if httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_ = httpSrv.Shutdown(sctx)
		cancel()
	}
	s.closeSyslog()
	ingestWG.Wait()
	maintWG.Wait()
	s.counts.flush(context.Background(), s.store, s.log)
	s.log.Info("shutting down: finishing detection work")
	stopWork()
	workWG.Wait()
	s.log.Info("stopped")
	return runErr
}

// maintain flushes ingest counters and applies retention until ctx ends.
func (s *Server) maintain(ctx context.Context) {
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			s.counts.flush(ctx, s.store, s.log)
		case <-prune.C:
			if !s.opts.Role.worker() {
				continue
			}
			if n, err := s.store.Prune(ctx, s.opts.Retention, time.Now()); err != nil {
				s.log.Warn("applying retention failed", "error", err)
			} else if n > 0 {
				s.log.Info("retention: deleted old detections", "deleted", n)
			}
		}
	}
}

// ingestCounts accumulates received and rejected counts per source and
// adds them to the store periodically (the store sums them across ingest
// processes).
type ingestCounts struct {
	mu sync.Mutex
	m  map[string][2]int64
}

func newIngestCounts() *ingestCounts { return &ingestCounts{m: map[string][2]int64{}} }

func (c *ingestCounts) add(source string, received, rejected int64) {
	if received == 0 && rejected == 0 {
		return
	}
	c.mu.Lock()
	v := c.m[source]
	v[0] += received
	v[1] += rejected
	c.m[source] = v
	c.mu.Unlock()
}

func (c *ingestCounts) flush(ctx context.Context, st *store.Store, log *slog.Logger) {
	c.mu.Lock()
	m := c.m
	c.m = map[string][2]int64{}
	c.mu.Unlock()
	for src, v := range m {
		if err := st.AddReceived(ctx, src, v[0], v[1]); err != nil {
			log.Warn("saving ingest counts failed", "error", err)
			c.add(src, v[0], v[1])
		}
	}
}
