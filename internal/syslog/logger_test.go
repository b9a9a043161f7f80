package syslog

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

// These tests parse what util-linux logger(1) really sends over UDP and TCP.

func needLogger(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("logger")
	if err != nil {
		t.Skipf("util-linux logger not found in PATH: %v", err)
	}
	return p
}

func runLogger(t *testing.T, logger string, args ...string) {
	t.Helper()
	out, err := exec.Command(logger, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("logger %v: %v: %s", args, err, out)
	}
}

func TestLoggerUDP(t *testing.T) {
	logger := needLogger(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	host, _ := os.Hostname()
	cases := []struct {
		args   []string
		format Format
		msgid  string
		sd     string
		ts     bool
	}{
		{[]string{"--rfc3164"}, FormatRFC3164, "", "", true},
		{[]string{"--rfc5424"}, FormatRFC5424, "", `timeQuality tzKnown=1 isSynced=0`, true},
		{[]string{"--rfc5424", "--msgid", "ID47", "--sd-id", "origin@32473", "--sd-param", `ip="192.0.2.7"`}, FormatRFC5424, "ID47", `timeQuality tzKnown=1 isSynced=0|origin@32473 ip=192.0.2.7`, true},
		{[]string{"--rfc5424=notime,nohost"}, FormatRFC5424, "", "", false},
	}
	buf := make([]byte, 9000)
	var m Message
	var ev event.Event
	for _, c := range cases {
		before := time.Now().Add(-time.Second)
		args := append([]string{"-n", "127.0.0.1", "-P", port, "-d", "-t", "sshd", "-p", "authpriv.err", "--id=4242"}, c.args...)
		runLogger(t, logger, append(args, "Corrupted MAC on input")...)
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("logger %v: nothing received: %v", c.args, err)
		}
		in := buf[:n]
		if err := m.Parse(in, ParseOptions{Now: time.Now()}); err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if m.Format != c.format || !m.HasPRI || FacilityName(m.Facility) != "authpriv" || SeverityName(m.Severity) != "err" ||
			string(m.AppName) != "sshd" || string(m.ProcID) != "4242" || string(m.MsgID) != c.msgid ||
			sdString(&m) != c.sd || string(m.Message) != "Corrupted MAC on input" || m.HasTimestamp != c.ts {
			t.Errorf("logger %v sent %q, parsed %+v", c.args, in, m)
		}
		if c.ts {
			if m.Timestamp.Before(before.Truncate(time.Second)) || m.Timestamp.After(time.Now().Add(time.Second)) {
				t.Errorf("logger %v: timestamp %v not now", c.args, m.Timestamp)
			}
			if string(m.Hostname) != host {
				t.Errorf("logger %v: hostname %q, want %q", c.args, m.Hostname, host)
			}
		}
		m.Event(&ev, "udp")
		if v, _ := ev.Get("Computer"); c.ts && v != host {
			t.Errorf("Computer = %q", v)
		}
	}
}

func TestLoggerTCP(t *testing.T) {
	logger := needLogger(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, octet := range []bool{false, true} {
		args := []string{"-n", "127.0.0.1", "-P", port, "-T", "-t", "vsftpd", "-p", "ftp.warning"}
		if octet {
			args = append(args, "--octet-count")
		}
		// Several lines from stdin: logger sends one message per line on
		// one connection.
		cmd := exec.Command(logger, args...)
		cmd.Stdin = stringsReader("weird status: 1\nBad HTTP verb.\n\nInput line too long.\n")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		r := NewReader(conn, 0)
		var got []string
		var m Message
		for {
			frame, err := r.Next()
			if err != nil {
				break
			}
			if err := m.Parse(frame, ParseOptions{Now: time.Now()}); err != nil {
				t.Errorf("Parse(%q): %v", frame, err)
			}
			if m.Format != FormatRFC5424 || string(m.AppName) != "vsftpd" || FacilityName(m.Facility) != "ftp" || SeverityName(m.Severity) != "warning" {
				t.Errorf("octet=%v: parsed %+v from %q", octet, m, frame)
			}
			got = append(got, string(m.Message))
		}
		conn.Close()
		cmd.Wait()
		want := "weird status: 1|Bad HTTP verb.||Input line too long." // logger sends the empty line as an empty message
		if s := join(got); s != want {
			t.Errorf("octet=%v: messages %q, want %q", octet, s, want)
		}
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func join(s []string) string { return strings.Join(s, "|") }
