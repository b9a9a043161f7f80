package cli

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vigil-defense/vigil/internal/syslog"
)

// syslogTap stands between logger and the server: it forwards every byte
// unchanged and records each message, so that hunt can read exactly what
// the server received.
type syslogTap struct {
	mu   sync.Mutex
	msgs [][]byte
	wg   sync.WaitGroup
}

func (tp *syslogTap) record(b []byte) {
	tp.mu.Lock()
	tp.msgs = append(tp.msgs, bytes.Clone(b))
	tp.mu.Unlock()
}

func (tp *syslogTap) udp(t *testing.T, to string) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.Dial("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); out.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			tp.record(buf[:n])
			out.Write(buf[:n])
		}
	}()
	return pc.LocalAddr().String()
}

func (tp *syslogTap) tcp(t *testing.T, to string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tp.wg.Add(1)
			go func() {
				defer tp.wg.Done()
				defer c.Close()
				out, err := net.Dial("tcp", to)
				if err != nil {
					t.Error(err)
					return
				}
				defer out.Close()
				r := syslog.NewReader(io.TeeReader(c, out), 0)
				for {
					msg, err := r.Next()
					if err != nil {
						if !errors.Is(err, io.EOF) {
							t.Error(err)
						}
						return
					}
					tp.record(msg)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestServeSyslogFromLogger sends messages with util-linux's logger over
// UDP and TCP (octet counting and newline framing) to a server running
// SigmaHQ's Linux rules, and requires the API to return exactly the
// detections vigil hunt finds in a file of the same messages.
func TestServeSyslogFromLogger(t *testing.T) {
	needCorpus(t)
	if _, err := exec.LookPath("logger"); err != nil {
		t.Skip("logger (util-linux, Debian package bsdutils) not installed")
	}
	rulesDir := filepath.Join(sharedCorpus, "sigma/rules/linux")
	ts := startServer(t, ruleOptions{paths: multiFlag{rulesDir}}, nil)
	udpAddr, streams := ts.srv.SyslogAddrs()
	var tap syslogTap
	tapUDP := tap.udp(t, udpAddr)
	tapTCP := tap.tcp(t, streams[0])

	send := []struct {
		transport []string
		prio, tag string
		msg       string
	}{
		{[]string{"-d"}, "auth.err", "sshd", "error: Corrupted MAC on input. [preauth]"},
		{[]string{"-d"}, "auth.info", "sshd", "Accepted publickey for deploy from 192.0.2.10 port 51334 ssh2"},
		{[]string{"-T", "--octet-count"}, "authpriv.notice", "useradd", "new user: name=backup2, UID=0, GID=0, home=/root, shell=/bin/bash, from=/dev/pts/1"},
		{[]string{"-T", "--octet-count"}, "daemon.info", "named", "denied AXFR from [203.0.113.50].53211"},
		{[]string{"-T"}, "cron.info", "crontab", "(root) REPLACE (root)"},
		{[]string{"-T"}, "user.notice", "app", "nothing to see here"},
	}
	var n int
	for _, s := range send {
		host, port, _ := net.SplitHostPort(tapUDP)
		if s.transport[0] == "-T" {
			host, port, _ = net.SplitHostPort(tapTCP)
		}
		args := append([]string{"-n", host, "-P", port, "--rfc5424", "-p", s.prio, "-t", s.tag, "--id=4242"}, s.transport...)
		out, err := exec.Command("logger", append(args, s.msg)...).CombinedOutput()
		if err != nil {
			t.Fatalf("logger %v: %v %s", args, err, out)
		}
		n++
	}
	ts.waitProcessed(t, int64(n))
	tap.wg.Wait()
	if len(tap.msgs) != n {
		t.Fatalf("tap saw %d messages, logger sent %d", len(tap.msgs), n)
	}
	var lines [][]byte
	for _, d := range ts.allDetections(t, "") {
		lines = append(lines, d)
	}
	have := normalizeSyslogDetections(t, lines)

	file := filepath.Join(t.TempDir(), "received.log")
	if err := os.WriteFile(file, append(bytes.Join(tap.msgs, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "hunt", "--no-progress", "--format", "jsonl", "--rules", rulesDir, file)
	if code != 0 {
		t.Fatalf("hunt: %d %s", code, errOut)
	}
	want := normalizeSyslogDetections(t, bytes.Split([]byte(out), []byte("\n")))
	if len(want) < 4 {
		t.Fatalf("hunt found %d detections in the messages, want at least 4:\n%s", len(want), out)
	}
	if len(have) != len(want) {
		t.Fatalf("serve stored %d detections, hunt found %d\nserve: %q\nhunt: %q", len(have), len(want), have, want)
	}
	for i := range have {
		if have[i] != want[i] {
			t.Fatalf("detection %d differs:\nserve %s\nhunt  %s", i, have[i], want[i])
		}
	}
	t.Logf("%d messages from logger (UDP, TCP octet-counted, TCP newline-framed): %d detections equal", n, len(have))
}

// normalizeSyslogDetections also drops record_id: a file numbers its lines,
// a listener its messages.
func normalizeSyslogDetections(t *testing.T, lines [][]byte) []string {
	var out [][]byte
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		out = append(out, dropKey(t, l, "record_id"))
	}
	return normalizeDetections(t, out)
}
