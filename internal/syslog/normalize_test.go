package syslog

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/internal/normalize"
)

// TestLogsources checks the routing of syslog events by the built-in
// logsource table (internal/normalize/tables/linux.yml).
func TestLogsources(t *testing.T) {
	tab := normalize.Default()
	cases := []struct {
		in   string
		want string // sorted "product/service" triples
	}{
		{"<38>Mar  2 08:01:02 web01 sshd[1234]: Failed password", "linux/auth,linux/sshd"},
		{"<86>1 2026-03-02T08:01:02Z web01 sudo - - - alice : COMMAND=/bin/bash", "linux/auth,linux/sudo"},
		{"Mar  2 08:01:02 web01 sshd[1234]: Failed password", "linux/auth,linux/sshd,linux/syslog"},
		{"Mar  2 08:01:02 web01 CRON[77]: (root) CMD (true)", "linux/cron,linux/syslog"},
		{"<78>Mar  2 08:01:02 web01 crontab[77]: (root) REPLACE (root)", "linux/cron,linux/syslog"},
		{"<75>Mar  2 08:01:02 web01 anything[77]: cron facility", "linux/cron,linux/syslog"},
		{"<28>Mar  2 08:01:02 web01 named[5]: denied AXFR from [192.0.2.1]", "linux/syslog"},
		{"<30>Mar  2 08:01:02 web01 clamd[5]: /tmp/x: Eicar FOUND", "linux/clamav,linux/syslog"},
		{"<30>Mar  2 08:01:02 web01 vsftpd[5]: weird status: 1", "linux/syslog,linux/vsftpd"},
		{"<30>Mar  2 08:01:02 web01 guacd[5]: User joined (2 users now present)", "linux/guacamole,linux/syslog"},
		{"not syslog at all", "linux/syslog"},
	}
	var m Message
	var ev event.Event
	for _, c := range cases {
		if err := m.Parse([]byte(c.in), ParseOptions{Now: now}); err != nil {
			t.Fatal(err)
		}
		m.Event(&ev, "test")
		var got []string
		for _, ls := range tab.Classify(&ev).Logsources {
			if ls.Category != "" {
				t.Errorf("%q: category %q", c.in, ls.Category)
			}
			got = append(got, ls.Product+"/"+ls.Service)
		}
		slices.Sort(got)
		if s := strings.Join(got, ","); s != c.want {
			t.Errorf("%q: logsources %s, want %s", c.in, s, c.want)
		}
	}
}
