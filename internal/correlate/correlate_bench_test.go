package correlate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/event"
	"github.com/vigil-defense/vigil/sigma"
)

const benchRules = `
title: failures
id: b-count
correlation:
  type: event_count
  rules: [fail]
  group-by: [User]
  timespan: 5m
  condition: {gte: 20}
---
title: spray
id: b-values
correlation:
  type: value_count
  rules: [fail]
  group-by: [IpAddress]
  timespan: 10m
  condition: {field: User, gte: 10}
---
title: fail then success
id: b-temporal
correlation:
  type: temporal_ordered
  rules: [fail, ok]
  group-by: [User]
  timespan: 5m
---
title: volume
id: b-sum
correlation:
  type: value_avg
  rules: [ok]
  group-by: [IpAddress]
  timespan: 1h
  condition: {field: Bytes, gt: 900}
`

var benchData = sync.OnceValue(func() []detect.Detection {
	// 1M detections over ~12 days: 5,000 users, 500 addresses, one every
	// second; 9 in 10 from rule fail.
	dets := make([]detect.Detection, 1_000_000)
	users := make([]string, 5000)
	for i := range users {
		users[i] = fmt.Sprintf("user%d", i)
	}
	ips := make([]string, 500)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	for i := range dets {
		id := "f"
		if i%10 == 0 {
			id = "s"
		}
		x := uint64(i) * 2654435761
		dets[i] = detect.Detection{
			RuleID: id, Time: ct0.Add(time.Duration(i) * time.Second), Source: "bench.evtx", RecordID: uint64(i),
			Fields: []event.Field{{Name: "User", Value: users[x%5000]}, {Name: "IpAddress", Value: ips[(x>>16)%500]}, {Name: "Bytes", Value: fmt.Sprint(x % 2000)}},
		}
	}
	return dets
})

func benchEngine(b *testing.B) *Engine {
	f, err := sigma.ParseFile("bench.yml", []byte(benchRules))
	if err != nil {
		b.Fatal(err)
	}
	e, errs := Compile(f.Correlations, base("f fail", "s ok"))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return e
}

// BenchmarkFeed is the streaming cost of one detection through four
// correlations (event_count, value_count, temporal_ordered, value_avg).
func BenchmarkFeed(b *testing.B) {
	e, dets := benchEngine(b), benchData()
	r := e.NewRunner(NewMemoryState(0), Options{})
	fired := 0
	emit := func(detect.Detection) { fired++ }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d := dets[i%len(dets)]
		d.Time = ct0.Add(time.Duration(i) * time.Second)
		r.Feed(d, emit)
	}
	b.ReportMetric(float64(fired)/float64(b.N), "fired/op")
}

// BenchmarkRun1M is a hunt's batch: sort and correlate 1M detections.
func BenchmarkRun1M(b *testing.B) {
	e, dets := benchEngine(b), benchData()
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for range b.N {
		n = len(e.Run(context.Background(), dets))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(dets)), "ns/detection")
	b.ReportMetric(float64(n), "fired")
}
