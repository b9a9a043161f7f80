package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/vigil-defense/vigil/internal/intel"
	"github.com/vigil-defense/vigil/internal/serve"
	"github.com/vigil-defense/vigil/internal/store"
)

const serveSynopsis = "[--config FILE] [--data-dir DIR] [--http ADDR] [--syslog-udp ADDR] [--syslog-tcp ADDR] [--syslog-tls ADDR --tls-cert FILE --tls-key FILE] [--rules PATH]... [--tail FILE]... [--nats URL] [--db URL] [--role all|ingest|worker|api]"

// serveConfig is vigil serve's configuration. Each setting comes from, in
// order of precedence: its flag, its environment variable, the YAML
// configuration file, the default.
type serveConfig struct {
	DataDir       string   `yaml:"data_dir"`
	HTTP          string   `yaml:"http"`
	SyslogUDP     string   `yaml:"syslog_udp"`
	SyslogTCP     string   `yaml:"syslog_tcp"`
	SyslogTLS     string   `yaml:"syslog_tls"`
	TLSCert       string   `yaml:"tls_cert"`
	TLSKey        string   `yaml:"tls_key"`
	Rules         []string `yaml:"rules"`
	MinLevel      string   `yaml:"min_level"`
	Tail          []string `yaml:"tail"`
	Intel         []string `yaml:"intel"`
	DropDir       string   `yaml:"drop_dir"`
	NATS          string   `yaml:"nats"`
	NATSStream    string   `yaml:"nats_stream"`
	DB            string   `yaml:"db"`
	Role          string   `yaml:"role"`
	Workers       int      `yaml:"workers"`
	LogLevel      string   `yaml:"log_level"`
	LogFormat     string   `yaml:"log_format"`
	MaxQueue      string   `yaml:"max_queue"`
	SyncAlways    bool     `yaml:"sync_always"`
	AckWait       string   `yaml:"ack_wait"`
	RetentionDays int      `yaml:"retention_days"`
	MaxDetections int64    `yaml:"max_detections"`
}

// serveSetting ties a setting to its flag, environment variable and
// default.
type serveSetting struct {
	flag, env, def, usage string
	str                   *string
	list                  *[]string
}

func serveDefaults() serveConfig {
	return serveConfig{
		HTTP:      "127.0.0.1:8080",
		SyslogUDP: ":5514",
		SyslogTCP: ":5514",
		Role:      "all",
		LogLevel:  "info",
		LogFormat: "text",
		MaxQueue:  "1GiB",
	}
}

// readServeConfig merges the defaults, the configuration file, the
// environment (getenv) and the flags; on a problem it has reported it and
// returns the exit status.
func readServeConfig(e *env, args []string, getenv func(string) (string, bool)) (serveConfig, int, bool) {
	fs := newFlagSet(e, "serve", serveSynopsis)
	configPath := fs.String("config", "", "YAML configuration `FILE` (env VIGIL_CONFIG)")
	// Flags are declared as strings so that "given" can be told from
	// "default"; the values are merged below.
	type flagDef struct {
		name, env, usage string
		list             bool
	}
	defs := []flagDef{
		{"data-dir", "VIGIL_DATA_DIR", "`DIR` holding the database, the queue, admin.token and the drop folder", false},
		{"http", "VIGIL_HTTP", "API listen `ADDR` (default 127.0.0.1:8080; off to disable)", false},
		{"syslog-udp", "VIGIL_SYSLOG_UDP", "syslog UDP listen `ADDR` (default :5514; off to disable)", false},
		{"syslog-tcp", "VIGIL_SYSLOG_TCP", "syslog TCP listen `ADDR`, RFC 6587 framing (default :5514; off to disable)", false},
		{"syslog-tls", "VIGIL_SYSLOG_TLS", "syslog over TLS listen `ADDR` (needs --tls-cert and --tls-key; default off)", false},
		{"tls-cert", "VIGIL_TLS_CERT", "TLS certificate `FILE` (PEM): the API is served over HTTPS", false},
		{"tls-key", "VIGIL_TLS_KEY", "TLS private key `FILE` (PEM)", false},
		{"rules", "VIGIL_RULES", "Sigma rule file or folder (repeatable; env: paths separated by " + string(os.PathListSeparator) + "); default: the built-in rules", true},
		{"min-level", "VIGIL_MIN_LEVEL", "only rules of this `level` or above", false},
		{"intel", "VIGIL_INTEL", "threat intelligence feed file or folder matched by the workers (repeatable, as in hunt --intel; env: paths separated by " + string(os.PathListSeparator) + ")", true},
		{"tail", "VIGIL_TAIL", "follow `FILE` (JSON lines or syslog text; repeatable); survives rotation and restarts", true},
		{"drop-dir", "VIGIL_DROP_DIR", "folder watched for EVTX/JSON files (default DATA-DIR/drop; off to disable)", false},
		{"nats", "VIGIL_NATS", "external NATS JetStream `URL` (default: embedded, no port)", false},
		{"nats-stream", "VIGIL_NATS_STREAM", "JetStream stream `NAME` (default VIGIL_EVENTS): one per organisation on a shared cluster", false},
		{"db", "VIGIL_DB", "database `URL`: postgres://… (default: SQLite in the data directory)", false},
		{"role", "VIGIL_ROLE", "what this process runs: all, ingest, worker or api", false},
		{"workers", "VIGIL_WORKERS", "detection goroutines (default: one per CPU)", false},
		{"log-level", "VIGIL_LOG_LEVEL", "debug, info, warn or error", false},
		{"log-format", "VIGIL_LOG_FORMAT", "text or json", false},
		{"max-queue", "VIGIL_MAX_QUEUE", "bytes of queued events before ingest refuses (e.g. 512MiB, 4GiB)", false},
		{"sync-always", "VIGIL_SYNC_ALWAYS", "fsync every queue write (true/false): survives power loss, slower", false},
		{"ack-wait", "VIGIL_ACK_WAIT", "how long a worker may hold a batch before it is given to another (default 30s)", false},
		{"retention-days", "VIGIL_RETENTION_DAYS", "delete detections older than this many days (0: keep)", false},
		{"max-detections", "VIGIL_MAX_DETECTIONS", "keep at most this many detections (0: no limit)", false},
	}
	strs := map[string]*string{}
	lists := map[string]*multiFlag{}
	for _, d := range defs {
		if d.list {
			m := &multiFlag{}
			lists[d.name] = m
			fs.Var(m, d.name, d.usage)
		} else {
			strs[d.name] = fs.String(d.name, "", d.usage)
		}
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return serveConfig{}, flagExit(err), false
	}
	if len(pos) > 0 {
		fmt.Fprintf(e.stderr, "vigil serve: unexpected argument %q: serve takes only flags\n", pos[0])
		return serveConfig{}, exitUsage, false
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	cfg := serveDefaults()
	cfgFile := *configPath
	if cfgFile == "" {
		cfgFile, _ = getenv("VIGIL_CONFIG")
	}
	if cfgFile != "" {
		data, err := os.ReadFile(cfgFile)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil serve: --config: %v\n", unwrapPathErr(err))
			return serveConfig{}, exitUsage, false
		}
		if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.Strict()); err != nil {
			fmt.Fprintf(e.stderr, "vigil serve: %s: %v\n", cfgFile, yaml.FormatError(err, false, true))
			return serveConfig{}, exitUsage, false
		}
	}
	// Environment, then flags, over the file.
	set := func(name, v string) error { return cfg.set(name, v) }
	for _, d := range defs {
		v, ok := getenv(d.env)
		if !ok || given[d.name] {
			continue
		}
		if d.list {
			cfg.setList(d.name, filepath.SplitList(v))
			continue
		}
		if err := set(d.name, v); err != nil {
			fmt.Fprintf(e.stderr, "vigil serve: %s: %v\n", d.env, err)
			return serveConfig{}, exitUsage, false
		}
	}
	for _, d := range defs {
		if !given[d.name] {
			continue
		}
		if d.list {
			cfg.setList(d.name, *lists[d.name])
			continue
		}
		if err := set(d.name, *strs[d.name]); err != nil {
			fmt.Fprintf(e.stderr, "vigil serve: --%s: %v\n", d.name, err)
			return serveConfig{}, exitUsage, false
		}
	}
	return cfg, exitOK, true
}

func runServe(ctx context.Context, e *env, args []string) int {
	cfg, code, ok := readServeConfig(e, args, os.LookupEnv)
	if !ok {
		return code
	}
	opts, log, err := cfg.options(e)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil serve: %v\n", err)
		return exitUsage
	}
	// The server's memory budget is 1 GiB: collect less often than Go's
	// default while the heap is small, and hard before the budget.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(640 << 20)
	}
	if opts.Role.NeedsRules() {
		ro := ruleOptions{paths: cfg.Rules, minLevel: cfg.MinLevel}
		start := time.Now()
		lr, err := ro.load()
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil serve: %v\n", err)
			return exitUsage
		}
		if len(lr.engine.Programs()) == 0 {
			fmt.Fprintln(e.stderr, "vigil serve: no rule could be loaded: check --rules ('vigil rules check PATH' tells why)")
			return exitUsage
		}
		log.Info("rules loaded", "rules", len(lr.engine.Programs()), "refused_files", len(lr.refused), "not_compiled", len(lr.uncompile), "took", time.Since(start).Round(time.Millisecond))
		opts.Engine = lr.engine
	}
	if len(cfg.Intel) > 0 && opts.Role.NeedsRules() {
		start := time.Now()
		idx, errs := intel.LoadPaths(cfg.Intel)
		for i, err := range errs {
			if i == 20 {
				log.Warn("more feed entries could not be read", "more", len(errs)-20)
				break
			}
			log.Warn("feed entry skipped", "error", err)
		}
		if idx == nil || idx.Len() == 0 {
			fmt.Fprintf(e.stderr, "vigil serve: --intel %s: no indicator could be loaded\n", strings.Join(cfg.Intel, ", "))
			return exitUsage
		}
		log.Info("threat intelligence loaded", "indicators", idx.Len(), "took", time.Since(start).Round(time.Millisecond))
		opts.Intel = idx
	}
	if addr := os.Getenv("VIGIL_PPROF"); addr != "" {
		// A debugging aid: Go's profiler on a separate listener.
		go func() { log.Warn("pprof stopped", "error", http.ListenAndServe(addr, pprofMux())) }()
		log.Warn("profiling endpoint enabled (VIGIL_PPROF); do not expose it", "addr", addr)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := serve.New(ctx, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil serve: %v\n", err)
		return exitUsage
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(e.stderr, "vigil serve: %v\n", err)
		return exitPartial
	}
	return exitOK
}

func (c *serveConfig) setList(name string, v []string) {
	switch name {
	case "rules":
		c.Rules = v
	case "tail":
		c.Tail = v
	case "intel":
		c.Intel = v
	}
}

func (c *serveConfig) set(name, v string) error {
	num := func(dst *int) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a whole number ≥ 0", v)
		}
		*dst = n
		return nil
	}
	switch name {
	case "data-dir":
		c.DataDir = v
	case "http":
		c.HTTP = v
	case "syslog-udp":
		c.SyslogUDP = v
	case "syslog-tcp":
		c.SyslogTCP = v
	case "syslog-tls":
		c.SyslogTLS = v
	case "tls-cert":
		c.TLSCert = v
	case "tls-key":
		c.TLSKey = v
	case "min-level":
		c.MinLevel = v
	case "drop-dir":
		c.DropDir = v
	case "nats":
		c.NATS = v
	case "nats-stream":
		c.NATSStream = v
	case "db":
		c.DB = v
	case "role":
		c.Role = v
	case "workers":
		return num(&c.Workers)
	case "log-level":
		c.LogLevel = v
	case "log-format":
		c.LogFormat = v
	case "max-queue":
		c.MaxQueue = v
	case "sync-always":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		c.SyncAlways = b
	case "ack-wait":
		c.AckWait = v
	case "retention-days":
		return num(&c.RetentionDays)
	case "max-detections":
		var n int
		if err := num(&n); err != nil {
			return err
		}
		c.MaxDetections = int64(n)
	default:
		return fmt.Errorf("unknown setting %q", name)
	}
	return nil
}

// options validates the configuration and turns it into serve.Options.
func (c *serveConfig) options(e *env) (serve.Options, *slog.Logger, error) {
	var o serve.Options
	if c.DataDir == "" {
		return o, nil, errors.New("no data directory: give --data-dir DIR (or VIGIL_DATA_DIR, or data_dir in the configuration file); it holds the database, the queue and admin.token")
	}
	role, err := serve.ParseRole(c.Role)
	if err != nil {
		return o, nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return o, nil, fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch c.LogFormat {
	case "text":
		h = slog.NewTextHandler(e.stderr, hopts)
	case "json":
		h = slog.NewJSONHandler(e.stderr, hopts)
	default:
		return o, nil, fmt.Errorf("log format %q: use text or json", c.LogFormat)
	}
	maxQueue, err := parseBytes(c.MaxQueue)
	if err != nil {
		return o, nil, fmt.Errorf("max queue: %w", err)
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") && !strings.HasPrefix(c.DB, "sqlite:") {
		return o, nil, fmt.Errorf("--db %q: give postgres://USER:PASSWORD@HOST/DB, sqlite:PATH, or nothing for SQLite in the data directory", redactDB(c.DB))
	}
	if c.NATS != "" && !strings.Contains(c.NATS, "://") {
		return o, nil, fmt.Errorf("--nats %q: give a URL such as nats://HOST:4222", c.NATS)
	}
	if role != serve.RoleAll && (c.NATS == "" || c.DB == "") {
		return o, nil, fmt.Errorf("--role %s shares work with other processes: it needs --nats URL and --db postgres://… that they share (the embedded queue and database belong to one process)", role)
	}
	var ackWait time.Duration
	if c.AckWait != "" {
		if ackWait, err = time.ParseDuration(c.AckWait); err != nil || ackWait < time.Second {
			return o, nil, fmt.Errorf("ack wait %q: give a duration of at least 1s, such as 30s", c.AckWait)
		}
	}
	o = serve.Options{
		AckWait:       ackWait,
		DataDir:       c.DataDir,
		Role:          role,
		HTTPAddr:      c.HTTP,
		TLSCert:       c.TLSCert,
		TLSKey:        c.TLSKey,
		SyslogUDP:     c.SyslogUDP,
		SyslogTCP:     c.SyslogTCP,
		SyslogTLS:     c.SyslogTLS,
		NATS:          c.NATS,
		NATSStream:    c.NATSStream,
		DB:            c.DB,
		Workers:       c.Workers,
		MaxQueueBytes: maxQueue,
		SyncAlways:    c.SyncAlways,
		Tail:          c.Tail,
		DropDir:       c.DropDir,
		Retention:     store.Retention{MaxAge: time.Duration(c.RetentionDays) * 24 * time.Hour, MaxDetections: c.MaxDetections},
		Logger:        slog.New(h),
	}
	return o, o.Logger, nil
}

// parseBytes reads sizes such as 512MiB, 4GiB, 1000000.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 512MiB or 4GiB", s)
	}
	return n * mult, nil
}

// redactDB hides a password in a database URL for messages.
func redactDB(u string) string {
	at := strings.LastIndex(u, "@")
	sch := strings.Index(u, "://")
	if at < 0 || sch < 0 || at < sch {
		return u
	}
	cred := u[sch+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return u[:sch+3] + cred[:i] + ":***" + u[at:]
	}
	return u
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/heap", pprof.Index)
	return mux
}
