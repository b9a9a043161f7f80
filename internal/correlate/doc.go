// Package correlate runs Sigma correlation rules (specification v2) over
// the detections of the detection rules. It sits after detect in vigil's
// data flow:
//
//	sigma.Correlation (spec) -> Compile (resolve, check) -> Engine (immutable)
//	detect.Detection -> Runner.Feed (windows in an injected State) -> correlation detections
//
// Compile resolves every reference of a correlation (by rule id or name,
// to a detection rule or to another correlation), refuses unknown or
// ambiguous references (suggesting the nearest name), cycles, a value_*
// correlation without condition.field, and a group-by alias that does not
// map every referenced rule. Engine.Referenced lists the base rules the
// correlations read; Engine.Standalone says whether a detection is still to
// be output on its own.
//
// # Generate
//
// The specification's default is that only the correlation is generated:
// a rule read by correlations emits no detections of its own unless at
// least one correlation reading it sets generate: true. The same holds for
// a correlation read by another correlation (a chain): its detections feed
// the outer correlation and are output only if the outer one sets
// generate. (pySigma disables a rule's output as soon as any correlation
// without generate reads it; vigil lets an explicit generate win.)
//
// # Windows: when a correlation fires and when it restarts
//
// Each correlation keeps one window per group (the values of its group-by
// fields). Events are processed in event-time order. An event exactly one
// timespan after another is in the same window; one nanosecond more is not.
//
// A condition that can only become true as events are added — gt/gte
// thresholds over event_count, value_count, value_sum, temporal and
// temporal_ordered, and temporal conditions without "not" — is checked at
// every event over a sliding window: the events of the group no older than
// one timespan before the current event. It fires once, at the event that
// makes it true (that event's time is the detection's time), and the window
// is then emptied: the next event of the group starts afresh. So
// "event_count gte 5 in 5m" fires at the 5th event, the 10th, … of a burst,
// not at every event after the 5th, and catches five events within any five
// minutes, not only within fixed boundaries (as the specification asks).
//
// Any other condition (lt, lte, eq, neq, ranges such as gt+lte, value_avg,
// value_percentile, temporal conditions with "not") can become false
// again as events arrive, so it is decided on a complete window: a window
// is anchored at the first event of the group and holds the events of the
// following timespan; it is decided when an event of the group arrives
// after it, when the stream's time passes its end, or at Flush. If the
// condition holds it fires once, with the time of the window's last event.
// The next event opens a new window: windows do not overlap.
//
// temporal counts the referenced rules seen in the window (the condition
// defaults to all of them); a condition expression ("a and (b or c)")
// is evaluated over "rule seen in the window". temporal_ordered counts how
// many of the rules, in list order, have been seen in that order within
// the window, each event at or after the previous one (equal times count
// as ordered, in input order); in an expression, a rule is true when the
// ordered chain reached it. value_count counts distinct values (several
// fields: distinct tuples); value_sum, value_avg and value_percentile parse
// the field as a decimal or 0x-hexadecimal number. value_percentile
// computes the nearest-rank 95th percentile (Percentile): the
// specification does not say which, and pySigma's condition.percentile key
// is not parsed by package sigma yet.
//
// # Missing fields
//
// An event that lacks a group-by field does not take part in the
// correlation (the SIEM queries the specification is modelled on drop
// events whose group-by field is null); an event lacking the aggregated
// field, or whose value is not a number for value_sum/avg/percentile, is
// skipped. Each case is counted in Stats. An empty value is a value.
// Computer, Channel and EventID are also read from the detection's own
// columns. With aliases, the group key uses the alias name and each
// referenced rule's own field.
//
// # Output
//
// A correlation detection carries the correlation's id, title, level,
// status, author and tags; Fields and Correlation.Group hold the group-by
// values (so that a correlation reading it can group by them too);
// Correlation.Events the contributing events (a chained correlation's
// events are flattened into the outer one), in time order.
//
// # Batch and streaming
//
// Engine.Run (vigil hunt) sorts the detections by time, stably, and feeds
// them to a Runner; out-of-order input is thus handled whatever its order.
// A streaming caller feeds a Runner directly: with Options.Lateness set,
// a detection is held back until one Lateness newer has arrived, then
// processed in time order (a watermark). A detection older than the last
// processed one is too late and is counted, not correlated: a lateness of
// a few seconds absorbs the reordering of parallel readers; more delays
// every firing by as much.
//
// # Memory
//
// A Runner's memory is the State's windows plus the held-back detections
// (at most Options.MaxPending). MemoryState holds at most its group cap of
// windows; past it the window with the earliest deadline is dropped and
// counted (MemoryState.Evicted). Windows are forgotten as soon as the
// stream's time passes their deadline. Per window: about 400 bytes (the
// window, the map slot, the key, the heap entry), plus 96 bytes per kept
// event reference (whose Source and RuleID strings are shared with the
// detection), at most Options.MaxEvents of them (default 64, raised to
// the threshold of an event_count so that the count stays exact). Beyond
// the cap, an anchored window keeps counting and summing but keeps only the
// newest references; a sliding window forgets its oldest events (a
// value_sum may then be underestimated). value_count keeps one map entry
// per distinct value (about 60 bytes plus the value), at most 4×MaxEvents
// of them; value_percentile keeps at most 4×MaxEvents numbers. With the
// defaults, a group costs at most about 6 KiB for event references (plus
// 24 KiB for a full value_count map), and DefaultMaxGroups (65,536) groups
// bound Run's windows to about 400 MiB in the worst case of every group
// holding a full window of references; typically a window holds a handful
// of events and costs under 1 KiB. Forgotten windows are recycled (up to
// 1,024), since windows come and go at the rate of events.
package correlate
