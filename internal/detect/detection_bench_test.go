package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/event"
)

// BenchmarkAppendJSON renders a detection of a Sysmon-sized event: 40
// fields with distinct names and one name repeated three times, plus the
// nine intel fields an intel detection adds (about 1.5 KB of JSON).
func BenchmarkAppendJSON(b *testing.B) {
	fs := make([]event.Field, 0, 52)
	for i := range 40 {
		fs = append(fs, event.Field{Name: fmt.Sprintf("EventDataField%d", i), Value: fmt.Sprintf(`C:\Windows\System32\value-%d.exe`, i)})
	}
	for i := range 3 {
		fs = append(fs, event.Field{Name: "answers", Value: fmt.Sprintf("10.0.0.%d", i)})
	}
	for _, n := range []string{"intel.field", "intel.value", "intel.indicator", "intel.type", "intel.id", "intel.source", "intel.confidence", "intel.tlp", "intel.labels"} {
		fs = append(fs, event.Field{Name: n, Value: "x"})
	}
	d := Detection{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), RuleID: "intel:feed", RuleTitle: "Threat intelligence match", Level: "high",
		Tags: []string{"attack.t1059"}, Author: "feed", Source: "x.evtx", RecordID: 7, Fields: fs}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = d.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
