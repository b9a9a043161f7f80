package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// copySyslog copies the syslog files of testdata/syslog to a temporary
// folder (gzip-compressed when gz), with a fixed modification time: dates
// in these files have no year, and vigil takes the latest year that puts
// them before the file's time.
func copySyslog(t *testing.T, gz bool) string {
	t.Helper()
	dir := t.TempDir()
	mtime := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC) // March lines: of the year before
	for _, name := range []string{"auth.log", "syslog"} {
		data, err := os.ReadFile(filepath.Join("testdata/syslog", name))
		if err != nil {
			t.Fatal(err)
		}
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data, name = b.Bytes(), name+".1.gz"
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestHuntSyslog hunts a made-up Debian auth.log and syslog (rsyslog's
// traditional file format) with every SigmaHQ Linux rule: the builtin
// rules for sshd, cron, named (service syslog) and any Linux log find what
// the files hold, through the logsource routing of syslog events, and
// nothing else fires (auditd, process_creation and other rules do not apply
// to syslog lines).
func TestHuntSyslog(t *testing.T) {
	needCorpus(t)
	rules := filepath.Join(sharedCorpus, "sigma/rules/linux")
	want := []string{
		"2025-03-03T07:15:33Z Suspicious Named Error bastion named",
		"2025-03-03T07:31:50Z Suspicious OpenSSH Daemon Error bastion sshd",
		"2025-03-03T07:44:09Z Privileged User Has Been Created bastion useradd",
		"2025-03-03T07:58:40Z Modifying Crontab bastion crontab",
	}
	for _, gz := range []bool{false, true} {
		dir := copySyslog(t, gz)
		code, out, errOut := runCLI(t, "hunt", "--format", "jsonl", "--rules", rules, dir)
		if code != 0 {
			t.Fatalf("gz=%v: exit %d: %s", gz, code, errOut)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var d struct {
				Time     string            `json:"time"`
				Title    string            `json:"rule_title"`
				Computer string            `json:"computer"`
				RecordID uint64            `json:"record_id"`
				Source   string            `json:"source"`
				Fields   map[string]string `json:"fields"`
			}
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("invalid jsonl line: %v: %s", err, l)
			}
			got = append(got, d.Time+" "+d.Title+" "+d.Computer+" "+d.Fields["AppName"])
			if d.Title == "Suspicious OpenSSH Daemon Error" &&
				(d.RecordID != 12 || !strings.HasPrefix(filepath.Base(d.Source), "auth.log") ||
					d.Fields["Message"] != "error: Corrupted MAC on input. [preauth]" || d.Fields["ProcID"] != "20611") {
				t.Errorf("gz=%v: sshd detection %+v", gz, d)
			}
		}
		slices.Sort(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("gz=%v: detections\n%s\nwant\n%s", gz, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(errOut, "2 files") || !strings.Contains(errOut, "25 events") || !strings.Contains(errOut, "0 errors, 0 warnings") {
			t.Errorf("gz=%v: summary: %s", gz, errOut)
		}
	}
}
