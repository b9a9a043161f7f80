// Package report turns the detections of a hunt into a report for the people
// who must act on it: one self-contained HTML page and an ATT&CK Navigator
// layer. It sits at the end of vigil's data flow, beside the jsonl, csv and
// table writers of `vigil hunt`:
//
//	detect.Detection (output order) -> Builder.Add -> Builder.Report -> WriteHTML, WriteNavigator
//
// # Building
//
// A Builder is filled incrementally, in the order detections are written,
// from the goroutine that writes them (it is not safe for concurrent use).
// Its memory does not grow with the number of detections: it keeps counts
// by level per time bucket (the buckets are merged into wider ones when
// there are too many), by rule, host, user (the first non-empty of the event
// fields detect.UserFields), ATT&CK tactic and
// technique (from the rules' attack.* tags); the first MaxRows detections
// for the table; and the first MaxStories correlation detections (those
// with a Correlation) in full as stories, with their contributing events.
// Whatever is cut is counted, and the report says so. Meta describes the
// scan; the figures known only at its end are given with SetMeta before
// Report is called.
//
// # The HTML page
//
// WriteHTML writes one file with inline CSS, an inline script and the whole
// Report as a JSON block (<script type="application/json" id="report-data">).
// A Content-Security-Policy forbids every request and allows only the page's
// own script (by hash), so the file can be opened offline, mailed or
// archived. Text is escaped by html/template; the script builds the table
// with textContent only. The sections are: an overview (what was scanned,
// when, how much, totals by level), detections over time by level (an SVG
// stacked bar chart drawn in Go), the top rules, hosts and users, an ATT&CK
// heat map (the enterprise tactics in matrix order, each technique seen
// under each of its tactics), the correlation stories, and a sortable,
// filterable table of detections. Every section says why it is empty when
// it is. Everything but the table reads the same without scripts, and the
// page prints on A4.
//
// # Licences
//
// Detections come from Sigma rules; those of SigmaHQ are under the Detection
// Rule License 1.1, so every detection and rule in the page shows its
// author. ATT&CK names carry MITRE's copyright notice.
//
// # Navigator
//
// WriteNavigator writes the enterprise techniques as an ATT&CK Navigator
// layer (format 4.5, domain enterprise-attack): one entry per technique and
// tactic, scored by its number of detections, with the rules behind it as
// the comment.
package report
