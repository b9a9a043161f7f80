package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/syslog"
)

// Source tags of the syslog listeners.
const (
	srcSyslogUDP = "syslog-udp"
	srcSyslogTCP = "syslog-tcp"
	srcSyslogTLS = "syslog-tls"
)

// syslogLinger is how long a syslog event may wait for its batch to fill.
const syslogLinger = 100 * time.Millisecond

func enabled(addr string) bool { return addr != "" && addr != "off" }

// listenSyslog opens the syslog listeners.
func (s *Server) listenSyslog() error {
	o := s.opts
	if enabled(o.SyslogUDP) {
		pc, err := net.ListenPacket("udp", o.SyslogUDP)
		if err != nil {
			return fmt.Errorf("--syslog-udp %s: %w", o.SyslogUDP, err)
		}
		if uc, ok := pc.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(8 << 20)
		}
		s.udp = pc
	}
	if enabled(o.SyslogTCP) {
		ln, err := net.Listen("tcp", o.SyslogTCP)
		if err != nil {
			return fmt.Errorf("--syslog-tcp %s: %w", o.SyslogTCP, err)
		}
		s.tcpLns = append(s.tcpLns, ln)
	}
	if enabled(o.SyslogTLS) {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		ln, err := tls.Listen("tcp", o.SyslogTLS, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return fmt.Errorf("--syslog-tls %s: %w", o.SyslogTLS, err)
		}
		s.tcpLns = append(s.tcpLns, tlsListener{ln})
	}
	return nil
}

// tlsListener marks a listener as TLS for the source tag.
type tlsListener struct{ net.Listener }

// SyslogAddrs returns the addresses of the syslog listeners (UDP, then the
// stream listeners), for tests and logs.
func (s *Server) SyslogAddrs() (udp string, streams []string) {
	if s.udp != nil {
		udp = s.udp.LocalAddr().String()
	}
	for _, ln := range s.tcpLns {
		streams = append(streams, ln.Addr().String())
	}
	return udp, streams
}

func (s *Server) closeSyslog() {
	if s.udp != nil {
		s.udp.Close()
	}
	for _, ln := range s.tcpLns {
		ln.Close()
	}
}

// startSyslog starts the listeners' goroutines.
func (s *Server) startSyslog(ctx context.Context, wg *sync.WaitGroup) {
	if s.udp != nil {
		b := s.newBatcher(srcSyslogUDP, syslogLinger)
		wg.Add(2)
		go func() { defer wg.Done(); b.run(ctx) }()
		go func() { defer wg.Done(); s.serveUDP(ctx, b) }()
		s.log.Info("syslog listening", "udp", s.udp.LocalAddr().String())
	}
	for _, ln := range s.tcpLns {
		src := srcSyslogTCP
		if _, ok := ln.(tlsListener); ok {
			src = srcSyslogTLS
		}
		b := s.newBatcher(src, syslogLinger)
		wg.Add(2)
		go func() { defer wg.Done(); b.run(ctx) }()
		go func() { defer wg.Done(); s.serveStream(ctx, ln, src, b) }()
		s.log.Info("syslog listening", strings.TrimPrefix(src, "syslog-"), ln.Addr().String())
	}
}

func (s *Server) newBatcher(src string, linger time.Duration) *streamBatcher {
	return newStreamBatcher(s.pub, src, linger,
		func(err error) { s.log.Warn("queueing events failed; retrying", "source", src, "error", err) },
		func(n int) {
			s.metrics.received.WithLabelValues(src).Add(float64(n))
			s.counts.add(src, int64(n), 0)
		})
}

// syslogParser turns messages into events for one listener goroutine.
type syslogParser struct {
	s    *Server
	src  string
	msg  syslog.Message
	ev   event.Event
	b    *streamBatcher
	warn time.Time // last warning logged (rate limit)
}

// handle parses one message and queues its event. Messages that are not
// valid syslog are kept as text events and counted as malformed.
func (p *syslogParser) handle(ctx context.Context, raw []byte, from string, record uint64) error {
	now := time.Now()
	err := p.msg.Parse(raw, syslog.ParseOptions{Now: now})
	if err != nil {
		p.s.metrics.rejected.WithLabelValues(p.src, "malformed-kept-as-text").Inc()
		if now.Sub(p.warn) > 10*time.Second {
			p.warn = now
			p.s.log.Warn("malformed syslog message kept as text", "source", p.src, "from", from, "error", err)
		}
	}
	p.msg.Event(&p.ev, p.src+"/"+from)
	p.ev.Record = record
	if err := p.b.add(ctx, &p.ev); err != nil {
		if errors.Is(err, errEventTooLarge) {
			p.s.metrics.rejected.WithLabelValues(p.src, "too-large").Inc()
			return nil
		}
		return err
	}
	return nil
}

func (s *Server) serveUDP(ctx context.Context, b *streamBatcher) {
	p := &syslogParser{s: s, src: srcSyslogUDP, b: b}
	buf := make([]byte, 64<<10+1)
	go func() { <-ctx.Done(); s.udp.Close() }()
	var n uint64
	for {
		k, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("syslog UDP read failed", "error", err)
			continue
		}
		if k > s.opts.MaxMessage {
			s.metrics.rejected.WithLabelValues(srcSyslogUDP, "too-large").Inc()
			continue
		}
		n++
		host, _, _ := net.SplitHostPort(addr.String())
		if err := p.handle(ctx, buf[:k], host, n); err != nil {
			return
		}
	}
}

func (s *Server) serveStream(ctx context.Context, ln net.Listener, src string, b *streamBatcher) {
	var wg sync.WaitGroup
	defer wg.Wait()
	conns := make(map[net.Conn]struct{})
	var mu sync.Mutex
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for c := range conns {
			// Let a reader finish what it has; stop reading new data.
			_ = c.SetReadDeadline(time.Now())
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("syslog accept failed", "source", src, "error", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				c.Close()
			}()
			s.serveConn(ctx, c, src, b)
		}()
	}
}

// maxConnIdle closes a syslog stream that sends nothing for this long.
const maxConnIdle = 10 * time.Minute

func (s *Server) serveConn(ctx context.Context, c net.Conn, src string, b *streamBatcher) {
	host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	p := &syslogParser{s: s, src: src, b: b}
	r := syslog.NewReader(&deadlineReader{ctx: ctx, c: c, idle: maxConnIdle}, s.opts.MaxMessage)
	var n uint64
	for {
		msg, err := r.Next()
		if err != nil {
			var fe *syslog.FrameError
			if errors.As(err, &fe) {
				s.metrics.rejected.WithLabelValues(src, "too-large").Inc()
				if fe.Truncated {
					return
				}
				continue
			}
			if err != io.EOF && ctx.Err() == nil {
				s.log.Debug("syslog connection ended", "source", src, "from", host, "error", err)
			}
			return
		}
		n++
		if err := p.handle(ctx, msg, host, n); err != nil {
			s.log.Warn("syslog events not queued at shutdown", "source", src, "from", host, "error", err)
			return
		}
	}
}

// deadlineReader renews a connection's read deadline before each read.
// After ctx ends it reads nothing more.
type deadlineReader struct {
	ctx  context.Context
	c    net.Conn
	idle time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if d.ctx.Err() != nil {
		return 0, io.EOF
	}
	_ = d.c.SetReadDeadline(time.Now().Add(d.idle))
	return d.c.Read(p)
}
