package report

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-defense/vigil/internal/attack"
	"github.com/vigil-defense/vigil/internal/detect"
)

// Limits of a Builder's memory. Counts always cover every detection; only
// the lists below are cut, and the report says so.
const (
	DefaultMaxRows    = 5000  // detections kept for the table
	DefaultMaxStories = 1000  // correlation detections kept as stories
	maxStoryEvents    = 1000  // contributing events kept per story
	maxDistinct       = 10000 // distinct hosts or users counted by name
	maxBuckets        = 4096  // time buckets kept before they are coarsened
	maxBars           = 120   // bars of the time chart
	maxFieldValue     = 300   // runes of one field value in the table
	maxKeyFields      = 6     // fields shown per detection in the table
	maxTechRules      = 5     // rules named in a heat-map tooltip
)

// Meta says what was scanned and with which rules. Fields that are known
// only when the scan ends (files, bytes, events, errors, duration, event
// times) are set with Builder.SetMeta before Report.
type Meta struct {
	Version          string        `json:"vigil_version"`
	Paths            []string      `json:"paths"`
	Files            int           `json:"files"`
	Bytes            int64         `json:"bytes"`
	Events           int64         `json:"events"`
	Errors           int           `json:"errors"`
	Warnings         int           `json:"warnings"`
	Start            time.Time     `json:"start"`
	Duration         time.Duration `json:"duration_ns"`
	RulesLoaded      int           `json:"rules_loaded"`
	RulesRefused     int           `json:"rules_refused"`
	CorrelationRules int           `json:"correlation_rules"` // correlation rules among RulesLoaded
	FirstEvent       time.Time     `json:"first_event,omitzero"`
	LastEvent        time.Time     `json:"last_event,omitzero"`
}

// Levels counts detections by Sigma level. Other holds levels that are
// not one of the five Sigma levels (or empty).
type Levels struct {
	Critical      int `json:"critical"`
	High          int `json:"high"`
	Medium        int `json:"medium"`
	Low           int `json:"low"`
	Informational int `json:"informational"`
	Other         int `json:"other"`
}

// levelNames are the Sigma levels, most severe first, then "other".
var levelNames = [...]string{"critical", "high", "medium", "low", "informational", "other"}

func levelIndex(level string) int {
	switch strings.ToLower(level) {
	case "critical":
		return 0
	case "high":
		return 1
	case "medium":
		return 2
	case "low":
		return 3
	case "informational":
		return 4
	}
	return 5
}

func (l *Levels) ptr(i int) *int {
	return [...]*int{&l.Critical, &l.High, &l.Medium, &l.Low, &l.Informational, &l.Other}[i]
}

func (l *Levels) add(i, n int) { *l.ptr(i) += n }

// At returns the count of the i-th level of the order critical, high,
// medium, low, informational, other.
func (l Levels) At(i int) int { return *l.ptr(i) }

// Total is the sum over all levels.
func (l Levels) Total() int {
	return l.Critical + l.High + l.Medium + l.Low + l.Informational + l.Other
}

// Report is what a hunt found, ready to render. It is also the JSON data
// block of the HTML report.
type Report struct {
	Meta       Meta             `json:"meta"`
	Generated  time.Time        `json:"generated"`
	Total      int              `json:"total"`
	ByLevel    Levels           `json:"by_level"`
	FirstTime  time.Time        `json:"first_time,omitzero"` // earliest and latest detection time
	LastTime   time.Time        `json:"last_time,omitzero"`
	Untimed    int              `json:"untimed"` // detections without an event time
	Timeline   Timeline         `json:"timeline"`
	Rules      []RuleCount      `json:"rules"`
	Hosts      []Count          `json:"hosts"`
	Users      []Count          `json:"users"`
	Tactics    []TacticCount    `json:"tactics"`
	Techniques []TechniqueCount `json:"techniques"`
	Stories    []Story          `json:"stories"`
	// StoriesDropped correlation detections were counted but not kept.
	StoriesDropped int   `json:"stories_dropped"`
	Rows           []Row `json:"rows"`
	// RowsDropped detections were counted but not kept for the table.
	RowsDropped int `json:"rows_dropped"`
	// HostsOther and UsersOther count detections whose host or user was
	// not counted by name because too many distinct names were seen.
	HostsOther int `json:"hosts_other"`
	UsersOther int `json:"users_other"`
}

// Timeline is the number of detections by level over time, in contiguous
// buckets of one width from the first to the last detection.
type Timeline struct {
	Width   time.Duration `json:"width_ns"`
	Buckets []Bucket      `json:"buckets"`
}

// Bucket is one bar of the timeline: detections from Start to Start+Width.
type Bucket struct {
	Start  time.Time `json:"start"`
	Levels Levels    `json:"levels"`
}

// RuleCount is one rule and how often it fired.
type RuleCount struct {
	ID     string    `json:"id"`
	Title  string    `json:"title"`
	Level  string    `json:"level"`
	Author string    `json:"author"`
	Count  int       `json:"count"`
	First  time.Time `json:"first,omitzero"`
	Last   time.Time `json:"last,omitzero"`
}

// Count is a name and its number of detections.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// TacticCount is an ATT&CK tactic and the number of detections whose rule
// names it or one of its techniques.
type TacticCount struct {
	ID     string `json:"id"`
	Short  string `json:"short"`
	Name   string `json:"name"`
	Domain string `json:"domain"`
	Count  int    `json:"count"`
}

// TechniqueCount is an ATT&CK technique seen in the rules' tags.
type TechniqueCount struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"` // full name: "OS Credential Dumping: LSASS Memory"
	Domain  string   `json:"domain"`
	Tactics []string `json:"tactics"` // shortnames, matrix order
	Count   int      `json:"count"`
	Rules   []Count  `json:"rules"` // the rules that fired most for it, at most five
}

// Story is a correlation detection with the events that made it fire.
type Story struct {
	RuleID        string       `json:"rule_id"`
	RuleTitle     string       `json:"rule_title"`
	Level         string       `json:"level"`
	Author        string       `json:"author"`
	Type          string       `json:"type"`
	Group         []Field      `json:"group"` // sorted by name
	WindowStart   time.Time    `json:"window_start,omitzero"`
	WindowEnd     time.Time    `json:"window_end,omitzero"`
	Value         float64      `json:"value"`
	Events        []StoryEvent `json:"events"` // time order
	EventsDropped int          `json:"events_dropped"`
}

// StoryEvent is one event that contributed to a story.
type StoryEvent struct {
	Time      time.Time `json:"time,omitzero"`
	Source    string    `json:"source"`
	RecordID  uint64    `json:"record_id"`
	RuleID    string    `json:"rule_id"`
	RuleTitle string    `json:"rule_title,omitempty"` // when the rule fired on its own
	Row       int       `json:"row"`                  // index in Rows of its detection, or -1
}

// Field is a name and a value.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Row is one detection in the table.
type Row struct {
	Time      time.Time `json:"time,omitzero"`
	Level     string    `json:"level"`
	Computer  string    `json:"computer"`
	Channel   string    `json:"channel"`
	EventID   string    `json:"event_id"`
	RecordID  uint64    `json:"record_id"`
	RuleID    string    `json:"rule_id"`
	RuleTitle string    `json:"rule_title"`
	Author    string    `json:"author"`
	User      string    `json:"user"`
	Source    string    `json:"source"`
	Count     int       `json:"count,omitempty"` // matches a de-duplicated detection stands for
	Fields    []Field   `json:"fields"`          // the most telling event fields
	Story     int       `json:"story"`           // index in Stories of a correlation, or -1
}

// Builder accumulates a Report from detections as a hunt emits them, in
// memory bounded by the number of rules and by the limits above, whatever
// the number of detections. It is not safe for concurrent use: call Add from
// the goroutine that writes the detections.
type Builder struct {
	// MaxRows and MaxStories bound the detections kept for the table and
	// the correlation detections kept as stories; set them before the first
	// Add. Zero means DefaultMaxRows and DefaultMaxStories.
	MaxRows    int
	MaxStories int

	meta      Meta
	total     int
	byLevel   Levels
	first     time.Time
	last      time.Time
	untimed   int
	width     int // index in widths of the bucket width
	buckets   map[int64]*Levels
	rules     map[string]*RuleCount
	ruleOrder []string
	hosts     counter
	users     counter
	tactics   map[string]int
	techs     map[string]*techCount
	stories   []Story
	storiesX  int
	rows      []Row
	rowsX     int
}

type techCount struct {
	t     attack.Technique
	n     int
	rules map[string]int // rule key -> count
}

// counter counts names, at most maxDistinct of them.
type counter struct {
	m     map[string]int
	other int
}

func (c *counter) add(name string) {
	if c.m == nil {
		c.m = map[string]int{}
	}
	if _, ok := c.m[name]; ok || len(c.m) < maxDistinct {
		c.m[name]++
		return
	}
	c.other++
}

func (c *counter) sorted() []Count {
	out := make([]Count, 0, len(c.m))
	for k, v := range c.m {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// widths are the bucket widths of the timeline, each a multiple of the one
// before so that buckets merge exactly when the range grows.
var widths = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
	28 * 24 * time.Hour, 56 * 24 * time.Hour, 112 * 24 * time.Hour,
	336 * 24 * time.Hour, 672 * 24 * time.Hour, 1344 * 24 * time.Hour,
	2688 * 24 * time.Hour, 5376 * 24 * time.Hour, 10752 * 24 * time.Hour,
}

// NewBuilder returns a Builder for a scan described by meta.
func NewBuilder(meta Meta) *Builder {
	return &Builder{
		meta:    meta,
		buckets: map[int64]*Levels{},
		rules:   map[string]*RuleCount{},
		tactics: map[string]int{},
		techs:   map[string]*techCount{},
	}
}

// SetMeta replaces the description of the scan, typically once it has ended
// and the numbers of files, bytes and events are known.
func (b *Builder) SetMeta(meta Meta) { b.meta = meta }

// Add counts d and keeps it for the table (and as a story when it is a
// correlation detection) while there is room. Call it for every detection
// in output order. Add copies what it keeps; d may be reused afterwards.
func (b *Builder) Add(d *detect.Detection) {
	b.total++
	li := levelIndex(d.Level)
	b.byLevel.add(li, 1)

	t := d.Time
	if t.IsZero() {
		b.untimed++
	} else {
		t = t.UTC()
		if b.first.IsZero() || t.Before(b.first) {
			b.first = t
		}
		if t.After(b.last) {
			b.last = t
		}
		b.addBucket(t, li)
	}

	key := d.RuleID + "\x00" + d.RuleTitle
	rc := b.rules[key]
	if rc == nil {
		rc = &RuleCount{ID: valid(d.RuleID), Title: valid(d.RuleTitle), Level: valid(strings.ToLower(d.Level)), Author: valid(d.Author)}
		b.rules[key] = rc
		b.ruleOrder = append(b.ruleOrder, key)
	}
	rc.Count++
	if !t.IsZero() {
		if rc.First.IsZero() || t.Before(rc.First) {
			rc.First = t
		}
		if t.After(rc.Last) {
			rc.Last = t
		}
	}

	if d.Computer != "" {
		b.hosts.add(valid(d.Computer))
	}
	user := userOf(d)
	if user != "" {
		b.users.add(user)
	}

	tactics, techs := attack.ParseTags(d.Tags)
	seen := map[string]bool{}
	for _, ta := range tactics {
		seen[ta.Domain+"/"+ta.Short] = true
	}
	for _, te := range techs {
		tc := b.techs[te.ID]
		if tc == nil {
			tc = &techCount{t: te, rules: map[string]int{}}
			b.techs[te.ID] = tc
		}
		tc.n++
		tc.rules[key]++
		for _, ta := range te.ResolvedTactics() {
			seen[ta.Domain+"/"+ta.Short] = true
		}
	}
	for k := range seen {
		b.tactics[k]++
	}

	story := -1
	if d.Correlation != nil {
		if b.maxStories() > len(b.stories) {
			story = len(b.stories)
			b.stories = append(b.stories, newStory(d))
		} else {
			b.storiesX++
		}
	}
	if len(b.rows) < b.maxRows() {
		b.rows = append(b.rows, newRow(d, user, story))
	} else {
		b.rowsX++
	}
}

func (b *Builder) maxRows() int {
	if b.MaxRows > 0 {
		return b.MaxRows
	}
	return DefaultMaxRows
}

func (b *Builder) maxStories() int {
	if b.MaxStories > 0 {
		return b.MaxStories
	}
	return DefaultMaxStories
}

func userOf(d *detect.Detection) string {
	if u := d.User(); u != "" {
		return valid(u)
	}
	return ""
}

func (b *Builder) addBucket(t time.Time, li int) {
	k := t.Truncate(widths[b.width]).Unix()
	l := b.buckets[k]
	if l == nil {
		for len(b.buckets) >= maxBuckets && b.width < len(widths)-1 {
			b.coarsen()
			k = t.Truncate(widths[b.width]).Unix()
		}
		if l = b.buckets[k]; l == nil {
			l = &Levels{}
			b.buckets[k] = l
		}
	}
	l.add(li, 1)
}

// coarsen merges the buckets into the next wider ones.
func (b *Builder) coarsen() {
	b.width++
	w := widths[b.width]
	merged := make(map[int64]*Levels, len(b.buckets)/2)
	for k, l := range b.buckets {
		nk := time.Unix(k, 0).UTC().Truncate(w).Unix()
		m := merged[nk]
		if m == nil {
			m = &Levels{}
			merged[nk] = m
		}
		for i := range levelNames {
			m.add(i, l.At(i))
		}
	}
	b.buckets = merged
}

// Report returns what was added so far. The Builder can go on adding.
func (b *Builder) Report() *Report {
	r := &Report{
		Meta:           b.meta,
		Generated:      time.Now().UTC(),
		Total:          b.total,
		ByLevel:        b.byLevel,
		FirstTime:      b.first,
		LastTime:       b.last,
		Untimed:        b.untimed,
		Timeline:       b.timeline(),
		StoriesDropped: b.storiesX,
		RowsDropped:    b.rowsX,
		Hosts:          b.hosts.sorted(),
		Users:          b.users.sorted(),
		HostsOther:     b.hosts.other,
		UsersOther:     b.users.other,
		Rows:           slices.Clone(b.rows),
		Stories:        make([]Story, len(b.stories)),
	}
	if r.Meta.Paths == nil {
		r.Meta.Paths = []string{}
	}

	titles := map[string]string{}
	for _, k := range b.ruleOrder {
		rc := *b.rules[k]
		r.Rules = append(r.Rules, rc)
		if _, ok := titles[rc.ID]; !ok {
			titles[rc.ID] = rc.Title
		}
	}
	slices.SortStableFunc(r.Rules, func(a, b RuleCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(levelIndex(a.Level), levelIndex(b.Level)), cmp.Compare(a.Title, b.Title))
	})

	for _, domain := range [][]attack.Tactic{attack.Tactics(), attack.ICSTactics()} {
		for _, ta := range domain {
			n := b.tactics[ta.Domain+"/"+ta.Short]
			if ta.Domain == attack.ICS && n == 0 {
				continue // the ICS matrix is shown only when an ICS technique was seen
			}
			r.Tactics = append(r.Tactics, TacticCount{ID: ta.ID, Short: ta.Short, Name: ta.Name, Domain: ta.Domain, Count: n})
		}
	}
	for _, tc := range b.techs {
		t := TechniqueCount{ID: tc.t.ID, Name: tc.t.FullName(), Domain: tc.t.Domain, Tactics: tc.t.Tactics, Count: tc.n}
		for k, n := range tc.rules {
			t.Rules = append(t.Rules, Count{Name: b.rules[k].Title, Count: n})
		}
		slices.SortFunc(t.Rules, func(a, b Count) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
		})
		if len(t.Rules) > maxTechRules {
			t.Rules = t.Rules[:maxTechRules]
		}
		r.Techniques = append(r.Techniques, t)
	}
	slices.SortFunc(r.Techniques, func(a, b TechniqueCount) int { return cmp.Compare(a.ID, b.ID) })
	if r.Rules == nil {
		r.Rules = []RuleCount{}
	}
	if r.Techniques == nil {
		r.Techniques = []TechniqueCount{}
	}

	// Link the stories' events to the table and name their rules.
	rowOf := make(map[string]int, len(r.Rows))
	for i, row := range r.Rows {
		k := row.Source + "\x00" + uitoa(row.RecordID)
		if _, ok := rowOf[k]; !ok && row.Story < 0 {
			rowOf[k] = i
		}
	}
	for i, s := range b.stories {
		s.Events = slices.Clone(s.Events)
		for j := range s.Events {
			e := &s.Events[j]
			e.RuleTitle = titles[e.RuleID]
			e.Row = -1
			if n, ok := rowOf[e.Source+"\x00"+uitoa(e.RecordID)]; ok {
				e.Row = n
			}
		}
		r.Stories[i] = s
	}
	return r
}

// timeline re-buckets the kept buckets into at most maxBars contiguous bars.
func (b *Builder) timeline() Timeline {
	if len(b.buckets) == 0 {
		return Timeline{Buckets: []Bucket{}}
	}
	wi := b.width
	for wi < len(widths)-1 && int(b.last.Truncate(widths[wi]).Sub(b.first.Truncate(widths[wi]))/widths[wi])+1 > maxBars {
		wi++
	}
	w := widths[wi]
	start := b.first.Truncate(w)
	n := int(b.last.Truncate(w).Sub(start)/w) + 1
	tl := Timeline{Width: w, Buckets: make([]Bucket, n)}
	for i := range tl.Buckets {
		tl.Buckets[i].Start = start.Add(time.Duration(i) * w)
	}
	for k, l := range b.buckets {
		i := int(time.Unix(k, 0).UTC().Truncate(w).Sub(start) / w)
		for j := range levelNames {
			tl.Buckets[i].Levels.add(j, l.At(j))
		}
	}
	return tl
}

func newStory(d *detect.Detection) Story {
	c := d.Correlation
	s := Story{
		RuleID: valid(d.RuleID), RuleTitle: valid(d.RuleTitle), Level: valid(strings.ToLower(d.Level)), Author: valid(d.Author),
		Type: valid(c.Type), WindowStart: c.WindowStart.UTC(), WindowEnd: c.WindowEnd.UTC(), Value: c.Value,
		Group: []Field{},
	}
	if c.WindowStart.IsZero() {
		s.WindowStart = time.Time{}
	}
	if c.WindowEnd.IsZero() {
		s.WindowEnd = time.Time{}
	}
	for k, v := range c.Group {
		s.Group = append(s.Group, Field{valid(k), valid(v)})
	}
	slices.SortFunc(s.Group, func(a, b Field) int { return cmp.Compare(a.Name, b.Name) })
	events := slices.Clone(c.Events)
	slices.SortStableFunc(events, func(a, b detect.EventRef) int { return a.Time.Compare(b.Time) })
	if len(events) > maxStoryEvents {
		s.EventsDropped = len(events) - maxStoryEvents
		events = events[:maxStoryEvents]
	}
	s.Events = make([]StoryEvent, len(events))
	for i, e := range events {
		s.Events[i] = StoryEvent{Source: valid(e.Source), RecordID: e.RecordID, RuleID: valid(e.RuleID), Row: -1}
		if !e.Time.IsZero() {
			s.Events[i].Time = e.Time.UTC()
		}
	}
	return s
}

// routingFields are in their own columns or say nothing to a reader.
var routingFields = map[string]bool{
	"Computer": true, "Channel": true, "EventID": true, "EventRecordID": true, "Provider_Guid": true,
	"Version": true, "Level": true, "Task": true, "Opcode": true, "Keywords": true, "TimeCreated": true,
	"Execution_ProcessID": true, "Execution_ThreadID": true, "ActivityID": true, "UtcTime": true,
	"ProcessGuid": true, "ParentProcessGuid": true, "SourceProcessGUID": true, "TargetProcessGUID": true,
	"UserID": true, "Provider_Name": true, "RuleName": true, "Hashes": true, "Correlation": true,
}

// keyFields are the fields that best explain a detection, in order.
var keyFields = []string{
	"CommandLine", "ScriptBlockText", "Image", "ParentImage", "ParentCommandLine", "TargetImage", "SourceImage",
	"GrantedAccess", "TargetFilename", "TargetObject", "Details", "ServiceName", "ImagePath", "ServiceFileName",
	"PipeName", "QueryName", "DestinationIp", "DestinationPort", "TaskName", "ShareName", "RelativeTargetName",
	"TargetUserName", "SubjectUserName", "IpAddress", "WorkstationName", "LogonType", "ProcessName",
}

func newRow(d *detect.Detection, user string, story int) Row {
	r := Row{
		Level: valid(strings.ToLower(d.Level)), Computer: valid(d.Computer), Channel: valid(d.Channel),
		EventID: valid(d.EventID), RecordID: d.RecordID, RuleID: valid(d.RuleID), RuleTitle: valid(d.RuleTitle),
		Author: valid(d.Author), User: user, Source: valid(d.Source), Story: story, Fields: []Field{},
	}
	if !d.Time.IsZero() {
		r.Time = d.Time.UTC()
	}
	if d.Count > 1 {
		r.Count = d.Count
	}
	used := map[string]bool{}
	take := func(f Field) {
		if len(r.Fields) < maxKeyFields && f.Value != "" && f.Value != "-" && !used[f.Name] {
			used[f.Name] = true
			r.Fields = append(r.Fields, Field{valid(f.Name), clip(f.Value, maxFieldValue)})
		}
	}
	for _, name := range keyFields {
		if v := d.Field(name); v != "" {
			take(Field{name, v})
		}
	}
	for _, f := range d.Fields {
		if !routingFields[f.Name] {
			take(Field{f.Name, f.Value})
		}
	}
	return r
}

// clip shortens s to at most n runes, marking the cut, and makes it valid
// UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n-1 {
			return s[:k] + "…"
		}
		i++
	}
	return s
}

func uitoa(u uint64) string { return strconv.FormatUint(u, 10) }

// valid returns s with invalid UTF-8 replaced, so that the report is valid
// UTF-8 whatever the logs held.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
