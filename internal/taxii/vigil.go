package taxii

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/vigil-defense/vigil/internal/detect"
	"github.com/vigil-defense/vigil/internal/intel"
)

// IndicatorSource gives the indicators vigil holds. *intel.Index is one.
type IndicatorSource interface {
	Indicators() []intel.Indicator
}

// DetectionSource gives the detections vigil made; those of threat
// intelligence matches (intel.NewDetection) become sightings.
type DetectionSource interface {
	Detections(ctx context.Context) ([]detect.Detection, error)
}

// ServerOptions configure the server of `vigil intel serve`.
type ServerOptions struct {
	Config
	Indicators IndicatorSource // nil: the indicators collection is empty
	Detections DetectionSource // nil: the sightings collection is empty
	// Organisation names the identity that publishes the objects and where
	// indicators were sighted; default "vigil".
	Organisation string
	// MaxTLP is the most restrictive TLP served: nothing marked above it
	// leaves the server. Default "amber".
	MaxTLP string
	// UnmarkedTLP is the TLP given to indicators whose feed states none;
	// default "amber".
	UnmarkedTLP string
	// SightingTLP is the least restrictive marking of a sighting (what this
	// organisation saw is its own information); default "amber". A sighting
	// is also never less restricted than the indicator it is of.
	SightingTLP string
	// PublishSources names the feeds in each indicator's description.
	PublishSources bool
	Now            func() time.Time // default time.Now
}

// Aliases of the collections NewVigilServer serves (their ids are UUIDs
// derived from these, stable across restarts and servers).
const (
	IndicatorsAlias = "indicators"
	SightingsAlias  = "sightings"
)

// CollectionID returns the id of one of vigil's collections by alias.
func CollectionID(alias string) string { return uuid5(namespace, "collection:"+alias) }

// NewVigilServer returns the server of `vigil intel serve`: two collections,
// "indicators" (STIX indicators built from opts.Indicators, one per value)
// and "sightings" (STIX sightings of those indicators built from
// opts.Detections), each with this organisation's identity and the TLP 2.0
// marking definitions its objects use. Nothing marked above MaxTLP is
// served. The collections are filled once here; call Refresh (or
// RefreshEvery) to follow the sources.
//
// Between refreshes, an indicator whose content changes gets a new version;
// one that is no longer in the source is expired (a new version with
// valid_until set to the refresh time) rather than revoked, since a
// revoked STIX object can never come back.
func NewVigilServer(opts ServerOptions) (*Server, error) {
	s, err := NewServer(opts.Config)
	if err != nil {
		return nil, err
	}
	v := &vigilPub{opts: opts}
	if v.opts.Organisation == "" {
		v.opts.Organisation = "vigil"
	}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
	}
	for _, t := range []struct {
		name string
		val  *string
		rank *int
	}{{"maximum TLP", &v.opts.MaxTLP, &v.maxRank}, {"TLP of unmarked indicators", &v.opts.UnmarkedTLP, &v.unmarkedRank}, {"TLP of sightings", &v.opts.SightingTLP, &v.sightingRank}} {
		if *t.val == "" {
			*t.val = "amber"
		}
		r, ok := TLPRank(*t.val)
		if !ok {
			return nil, fmt.Errorf("taxii server: %s %q: want clear, green, amber, amber+strict or red", t.name, *t.val)
		}
		*t.rank = r
	}
	v.identity = IdentityID(v.opts.Organisation)
	v.inds = &publisher{store: NewMemoryStore(), state: map[string]*published{}}
	v.sights = &publisher{store: NewMemoryStore(), state: map[string]*published{}}
	if err := s.AddCollection(Collection{
		ID: CollectionID(IndicatorsAlias), Alias: IndicatorsAlias, Title: "Indicators",
		Description: fmt.Sprintf("Indicators %s holds, marked TLP:%s or less restricted.", v.opts.Organisation, tlpUpper(v.maxRank)),
	}, v.inds.store); err != nil {
		return nil, err
	}
	if err := s.AddCollection(Collection{
		ID: CollectionID(SightingsAlias), Alias: SightingsAlias, Title: "Sightings",
		Description: fmt.Sprintf("Indicators %s saw in its logs: counts and first and last times, without the events.", v.opts.Organisation),
	}, v.sights.store); err != nil {
		return nil, err
	}
	s.refreshers = append(s.refreshers, v.refresh)
	if err := s.Refresh(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

func tlpUpper(rank int) string {
	b := []byte(tlpLevels[rank])
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

type vigilPub struct {
	opts                                ServerOptions
	maxRank, unmarkedRank, sightingRank int
	identity                            string
	inds, sights                        *publisher
}

// merged is one value's indicator, merged from every feed entry allowed
// under the maximum TLP.
type merged struct {
	ind     Indicator
	rank    int
	sources []string
}

func (v *vigilPub) refresh(ctx context.Context) error {
	now := v.opts.Now().UTC().Truncate(time.Millisecond)
	var errs []error
	if err := v.refreshIndicators(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("indicators collection: %w", err))
	}
	if err := v.refreshSightings(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("sightings collection: %w", err))
	}
	return errors.Join(errs...)
}

// tlpOf returns the rank of a stated TLP, the unmarked rank for none, and
// red's for a TLP vigil does not know (never served below red).
func (v *vigilPub) tlpOf(tlp string) int {
	if tlp == "" {
		return v.unmarkedRank
	}
	if r, ok := TLPRank(tlp); ok {
		return r
	}
	return len(tlpLevels) - 1
}

func (v *vigilPub) refreshIndicators(ctx context.Context, now time.Time) error {
	by := map[string]*merged{}
	if v.opts.Indicators != nil {
		for _, ind := range v.opts.Indicators.Indicators() {
			r := v.tlpOf(ind.TLP)
			if r > v.maxRank {
				continue // TLP: not shared at this server's level
			}
			if _, err := Pattern(ind.Type, ind.Value); err != nil {
				continue // not expressible as a STIX pattern (a CVE)
			}
			id := IndicatorID(ind.Type, ind.Value)
			m := by[id]
			if m == nil {
				m = &merged{ind: FromIntel(ind), rank: r}
				m.ind.Labels = slices.Clone(ind.Labels)
				by[id] = m
			} else {
				mergeInto(m, ind, r)
			}
			if ind.Source != "" && !slices.Contains(m.sources, ind.Source) {
				m.sources = append(m.sources, ind.Source)
			}
		}
	}
	opts := StixOptions{IdentityID: v.identity, PublishSources: v.opts.PublishSources}
	var drafts []draft
	used := map[int]bool{}
	for id, m := range by {
		m.ind.TLP = tlpLevels[m.rank]
		used[m.rank] = true
		slices.Sort(m.ind.Labels)
		m.ind.Labels = slices.Compact(m.ind.Labels)
		slices.Sort(m.sources)
		drafts = append(drafts, indicatorDraft(id, m.ind, m.sources, opts))
	}
	// Indicators no longer in the source (or now above the maximum TLP)
	// are expired.
	for id, st := range v.inds.state {
		if _, ok := by[id]; ok || st.ind == nil {
			continue
		}
		ind := *st.ind
		if !ind.ValidUntil.IsZero() && !ind.ValidUntil.After(now) {
			drafts = append(drafts, indicatorDraft(id, ind, st.sources, opts)) // already over: unchanged
		} else {
			ind.ValidUntil = now
			drafts = append(drafts, indicatorDraft(id, ind, st.sources, opts))
		}
		r, _ := TLPRank(ind.TLP)
		used[r] = true
	}
	drafts = append(drafts, v.commonDrafts(used)...)
	return v.inds.publish(ctx, now, drafts)
}

func indicatorDraft(id string, ind Indicator, sources []string, opts StixOptions) draft {
	return draft{id: id, typ: "indicator", ind: &ind, sources: sources,
		render: func(created, modified time.Time) ([]byte, error) {
			return StixIndicator(ind, sources, created, modified, opts)
		}}
}

// mergeInto merges another feed entry of the same value: the most
// restrictive TLP, the highest confidence, every label, the widest validity.
func mergeInto(m *merged, ind intel.Indicator, rank int) {
	m.rank = max(m.rank, rank)
	m.ind.Confidence = max(m.ind.Confidence, ind.Confidence)
	m.ind.Labels = append(m.ind.Labels, ind.Labels...)
	if ind.ValidFrom.IsZero() || !m.ind.ValidFrom.IsZero() && ind.ValidFrom.Before(m.ind.ValidFrom) {
		m.ind.ValidFrom = ind.ValidFrom
	}
	if ind.ValidUntil.IsZero() || !m.ind.ValidUntil.IsZero() && ind.ValidUntil.After(m.ind.ValidUntil) {
		m.ind.ValidUntil = ind.ValidUntil
	}
}

// commonDrafts are the identity and the marking definitions the objects of
// a collection refer to.
func (v *vigilPub) commonDrafts(used map[int]bool) []draft {
	org := v.opts.Organisation
	ds := []draft{{id: v.identity, typ: "identity", render: func(created, _ time.Time) ([]byte, error) {
		return IdentityObject(org, created)
	}}}
	for r := range tlpLevels {
		if !used[r] {
			continue
		}
		level := tlpLevels[r]
		ds = append(ds, draft{id: tlpMarking[level], typ: "marking-definition",
			version: time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC),
			render:  func(_, _ time.Time) ([]byte, error) { return tlpMarkingObject(level) }})
	}
	return ds
}

func (v *vigilPub) refreshSightings(ctx context.Context, now time.Time) error {
	var drafts []draft
	used := map[int]bool{}
	if v.opts.Detections != nil {
		ds, err := v.opts.Detections.Detections(ctx)
		if err != nil {
			return fmt.Errorf("reading detections: %w", err)
		}
		for _, si := range SightingsFromDetections(ds) {
			r := max(v.tlpOf(si.TLP), v.sightingRank)
			if r > v.maxRank {
				continue
			}
			used[r] = true
			level := tlpLevels[r]
			identity := v.identity
			drafts = append(drafts, draft{id: SightingID(si.IndicatorID, identity), typ: "sighting",
				render: func(created, modified time.Time) ([]byte, error) {
					return StixSighting(si, identity, level, created, modified)
				}})
		}
	}
	drafts = append(drafts, v.commonDrafts(used)...)
	return v.sights.publish(ctx, now, drafts)
}

// A draft is an object a collection should hold, rendered with the times
// the publisher decides.
type draft struct {
	id, typ string
	version time.Time // a fixed version; zero: the object's modified time
	render  func(created, modified time.Time) ([]byte, error)
	// For indicators: what was published, to expire it when it goes.
	ind     *Indicator
	sources []string
}

type published struct {
	hash    [sha256.Size]byte // of the content rendered without times
	created time.Time
	ind     *Indicator
	sources []string
}

// publisher adds new and changed objects to a store: an object keeps its
// created time, and gets a new modified time (its version) and date added
// whenever its content changes.
type publisher struct {
	store     Store
	state     map[string]*published
	lastAdded time.Time
}

func (p *publisher) publish(ctx context.Context, now time.Time, drafts []draft) error {
	sort.Slice(drafts, func(i, j int) bool { return drafts[i].id < drafts[j].id })
	added := now
	if next := p.lastAdded.Add(taxiiPrecision); added.Before(next) {
		added = next
	}
	var objs []Object
	var errs []error
	for _, d := range drafts {
		probe, err := d.render(time.Time{}, time.Time{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h := sha256.Sum256(probe)
		st := p.state[d.id]
		if st != nil && st.hash == h {
			continue
		}
		created := now
		if st != nil {
			created = st.created
		}
		raw, err := d.render(created, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		version := now
		if !d.version.IsZero() {
			version = d.version
		}
		// Each object gets its own date added, a microsecond apart, so that
		// a client paging with added_after alone misses none.
		objs = append(objs, Object{ID: d.id, Type: d.typ, Version: version, DateAdded: added, Raw: raw})
		p.lastAdded = added
		added = added.Add(taxiiPrecision)
		p.state[d.id] = &published{hash: h, created: created, ind: d.ind, sources: d.sources}
	}
	if len(objs) > 0 {
		if err := p.store.Add(ctx, objs...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
