package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readConfig(t *testing.T, vars map[string]string, args ...string) (serveConfig, string, bool) {
	t.Helper()
	var errb bytes.Buffer
	e := &env{stdout: &bytes.Buffer{}, stderr: &errb}
	cfg, _, ok := readServeConfig(e, args, func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
	return cfg, errb.String(), ok
}

// TestServeConfigPrecedence: flag over environment over file over default.
func TestServeConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vigil.yml")
	os.WriteFile(file, []byte("data_dir: /from/file\nhttp: 127.0.0.1:1111\nsyslog_udp: off\nworkers: 3\nrules: [a, b]\n"), 0o600)
	vars := map[string]string{"VIGIL_HTTP": "127.0.0.1:2222", "VIGIL_WORKERS": "5", "VIGIL_RULES": "c:d"}
	cfg, msg, ok := readConfig(t, vars, "--config", file, "--workers", "7")
	if !ok {
		t.Fatal(msg)
	}
	if cfg.DataDir != "/from/file" || cfg.HTTP != "127.0.0.1:2222" || cfg.Workers != 7 || cfg.SyslogUDP != "off" ||
		cfg.SyslogTCP != ":5514" || strings.Join(cfg.Rules, ",") != "c,d" {
		t.Errorf("merged config: %+v", cfg)
	}
	cfg, _, _ = readConfig(t, nil, "--config", file, "--rules", "x", "--rules", "y")
	if strings.Join(cfg.Rules, ",") != "x,y" || cfg.HTTP != "127.0.0.1:1111" {
		t.Errorf("flags over file: %+v", cfg)
	}
}

// TestServeMisconfiguration: each mistake gets a message naming it.
func TestServeMisconfiguration(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte("data_dir: x\nhtpp: 1\n"), 0o600)
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--config", bad}, nil, "htpp"},
		{[]string{"--config", "/no/such/file"}, nil, "--config"},
		{[]string{"--workers", "many"}, nil, "--workers"},
		{nil, map[string]string{"VIGIL_SYNC_ALWAYS": "perhaps"}, "VIGIL_SYNC_ALWAYS"},
		{[]string{"extra"}, nil, "unexpected argument"},
	} {
		_, msg, ok := readConfig(t, c.env, c.args...)
		if ok || !strings.Contains(msg, c.want) {
			t.Errorf("%v %v: ok=%v message %q, want it to name %q", c.args, c.env, ok, msg, c.want)
		}
	}
	for _, c := range []struct {
		cfg  serveConfig
		want string
	}{
		{serveConfig{}, "no data directory"},
		{serveConfig{DataDir: "d", Role: "boss"}, "--role"},
		{serveConfig{DataDir: "d", Role: "worker"}, "needs --nats"},
		{serveConfig{DataDir: "d", Role: "all", DB: "mysql://x"}, "--db"},
		{serveConfig{DataDir: "d", Role: "all", NATS: "localhost"}, "--nats"},
		{serveConfig{DataDir: "d", Role: "all", LogLevel: "loud", LogFormat: "text", MaxQueue: "1GiB"}, "log level"},
		{serveConfig{DataDir: "d", Role: "all", LogLevel: "info", LogFormat: "text", MaxQueue: "lots"}, "max queue"},
		{serveConfig{DataDir: "d", Role: "all", LogLevel: "info", LogFormat: "text", MaxQueue: "1GiB", AckWait: "1ms"}, "ack wait"},
	} {
		cfg := serveDefaults()
		if c.cfg.DataDir != "" {
			cfg.DataDir = c.cfg.DataDir
		}
		if c.cfg.Role != "" {
			cfg.Role = c.cfg.Role
		}
		if c.cfg.DB != "" {
			cfg.DB = c.cfg.DB
		}
		if c.cfg.NATS != "" {
			cfg.NATS = c.cfg.NATS
		}
		if c.cfg.LogLevel != "" {
			cfg.LogLevel = c.cfg.LogLevel
		}
		if c.cfg.MaxQueue != "" {
			cfg.MaxQueue = c.cfg.MaxQueue
		}
		cfg.AckWait = c.cfg.AckWait
		e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
		if _, _, err := cfg.options(e); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want it to say %q", c.cfg, err, c.want)
		}
	}
	// A password in a database URL is not repeated.
	cfg := serveDefaults()
	cfg.DataDir, cfg.DB = "d", "mysql://user:s3cret@host/db"
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	if _, _, err := cfg.options(e); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error repeats the password: %v", err)
	}
}
