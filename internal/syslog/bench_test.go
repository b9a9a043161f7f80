package syslog

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
)

var benchLines = map[string][]byte{
	"rfc5424":   []byte(`<165>1 2026-02-28T10:00:00.003+02:00 mymachine.example.com sshd 4242 ID47 [timeQuality tzKnown="1" isSynced="0"][origin@32473 ip="192.0.2.7"] Accepted publickey for alice from 192.0.2.7 port 52100 ssh2`),
	"rfc3164":   []byte("<38>Mar  2 08:01:02 web01 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 52100 ssh2"),
	"auth.log":  []byte("Mar  2 08:01:02 web01 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 52100 ssh2"),
	"rsyslogfs": []byte("2026-02-28T10:00:00.123456+01:00 web01 sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash"),
}

func BenchmarkParseEvent(b *testing.B) {
	for _, name := range []string{"rfc5424", "rfc3164", "auth.log", "rsyslogfs"} {
		line := benchLines[name]
		b.Run(name, func(b *testing.B) {
			var m Message
			var ev event.Event
			opts := ParseOptions{Now: now}
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if err := m.Parse(line, opts); err != nil {
					b.Fatal(err)
				}
				m.Event(&ev, "bench")
			}
		})
	}
}

func BenchmarkReader(b *testing.B) {
	var nl, oc bytes.Buffer
	for range 1000 {
		nl.Write(benchLines["rfc5424"])
		nl.WriteByte('\n')
		fmt.Fprintf(&oc, "%d %s", len(benchLines["rfc5424"]), benchLines["rfc5424"])
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"newline", nl.Bytes()}, {"octet-counted", oc.Bytes()}} {
		b.Run(c.name, func(b *testing.B) {
			br := bytes.NewReader(c.data)
			r := NewReader(br, 0)
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(c.data)
				*r = Reader{rd: br, buf: r.buf, max: r.max}
				for {
					if _, err := r.Next(); err != nil {
						break
					}
				}
			}
		})
	}
}
