package source

import (
	"path/filepath"
	"testing"

	"github.com/vigil-defense/vigil/evtx"
	"github.com/vigil-defense/vigil/internal/event"
)

// Readers mark the values the log typed as numbers, booleans, times,
// GUIDs or SIDs (event.Event.AddScalar), and only those: EVTX by the
// BinXML type of the value, JSON by the token.
func TestScalarsMarked(t *testing.T) {
	root := corpus(t, "evtx/hayabusa-sample-evtx/YamatoSecurity/DefenseEvasion")
	zeek := corpus(t, "logs/zeek-wrccdc2018/zeek-json/dns.json.gz")
	evs := eventsOf(scanAll(t, []string{filepath.Join(root, "T1027.004_ObfuscatedFilesOrInformationCompileAfterDelivery_Sysmon.evtx")}, 1))
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	want := map[string]bool{
		evtx.FieldEventID: true, evtx.FieldLevel: true, evtx.FieldKeywords: true, evtx.FieldTimeCreated: true,
		evtx.FieldEventRecordID: true, evtx.FieldProcessID: true, evtx.FieldThreadID: true, evtx.FieldUserID: true,
		"ProcessId": true, "ProcessGuid": true, // Sysmon: UInt32, GUID
		evtx.FieldChannel: false, evtx.FieldComputer: false, evtx.FieldProviderName: false,
		"Image": false, "CommandLine": false, "UtcTime": false, "Hashes": false, "User": false,
	}
	checkScalars(t, evs, want)

	evs = eventsOf(scanAll(t, []string{zeek}, 1))
	checkScalars(t, evs[:1000], map[string]bool{
		"id.orig_p": true, "id.resp_p": true, "trans_id": true, "rtt": true, "qclass": true, "AA": true, "rejected": true, "TTLs": true,
		"ts":        true, // the event's time, parsed as such
		"_write_ts": false, "uid": false, "id.orig_h": false, "id.resp_h": false, "query": false, "answers": false, "proto": false,
	})
}

// checkScalars fails unless every field named in want is a scalar exactly
// when want says so, and each name occurs.
func checkScalars(t *testing.T, evs []*event.Event, want map[string]bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, ev := range evs {
		for i := 0; i < ev.Len(); i++ {
			name := ev.Name(i)
			w, ok := want[name]
			if !ok {
				continue
			}
			seen[name] = true
			if got := ev.Scalar(i); got != w {
				t.Fatalf("%s:%d: %s = %q: scalar %v, want %v", ev.Source, ev.Record, name, ev.Value(i), got, w)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no field %s in %s", name, evs[0].Source)
		}
	}
}
