package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vigil-defense/vigil/internal/attack"
)

// Navigator layer format facts (layer format 4.5, which needs Navigator
// 4.9.0 or later).
const (
	navigatorVersion = "5.1.0"
	layerVersion     = "4.5"
)

// layer is an ATT&CK Navigator layer, format 4.5.
type layer struct {
	Name        string        `json:"name"`
	Versions    layerVersions `json:"versions"`
	Domain      string        `json:"domain"`
	Description string        `json:"description"`
	Sorting     int           `json:"sorting"`
	Layout      layerLayout   `json:"layout"`
	HideDisable bool          `json:"hideDisabled"`
	Techniques  []layerTech   `json:"techniques"`
	Gradient    layerGradient `json:"gradient"`
	Legend      []layerLegend `json:"legendItems"`
	Metadata    []layerMetaKV `json:"metadata"`
	ShowTRB     bool          `json:"showTacticRowBackground"`
	TRB         string        `json:"tacticRowBackground"`
}

type layerVersions struct {
	Attack    string `json:"attack"`
	Navigator string `json:"navigator"`
	Layer     string `json:"layer"`
}

type layerLayout struct {
	Layout                string `json:"layout"`
	ShowID                bool   `json:"showID"`
	ShowName              bool   `json:"showName"`
	ShowAggregateScores   bool   `json:"showAggregateScores"`
	CountUnscored         bool   `json:"countUnscored"`
	AggregateFunction     string `json:"aggregateFunction"`
	ExpandedSubtechniques string `json:"expandedSubtechniques"`
}

type layerTech struct {
	TechniqueID       string        `json:"techniqueID"`
	Tactic            string        `json:"tactic"`
	Score             int           `json:"score"`
	Comment           string        `json:"comment"`
	Enabled           bool          `json:"enabled"`
	Metadata          []layerMetaKV `json:"metadata,omitempty"`
	ShowSubtechniques bool          `json:"showSubtechniques,omitempty"`
}

type layerGradient struct {
	Colors   []string `json:"colors"`
	MinValue int      `json:"minValue"`
	MaxValue int      `json:"maxValue"`
}

type layerLegend struct {
	Label string `json:"label"`
	Color string `json:"color"`
}

type layerMetaKV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// WriteNavigator writes the enterprise ATT&CK techniques of r as an ATT&CK
// Navigator layer (format 4.5): one entry per technique and tactic, scored
// by the number of detections, with the rules behind it in the comment.
// ICS techniques are left out (a layer has one domain) and counted in the
// description.
func WriteNavigator(w io.Writer, r *Report) error {
	major, _, _ := strings.Cut(attack.Version, ".")
	l := layer{
		Name:     "vigil hunt",
		Versions: layerVersions{Attack: major, Navigator: navigatorVersion, Layer: layerVersion},
		Domain:   attack.Enterprise,
		Sorting:  3, // descending by score
		Layout: layerLayout{Layout: "side", ShowID: true, ShowName: true, AggregateFunction: "sum",
			ShowAggregateScores: true, ExpandedSubtechniques: "annotated"},
		Techniques: []layerTech{},
		ShowTRB:    true,
		TRB:        "#dddddd",
	}
	top, ics := 0, 0
	for _, t := range r.Techniques {
		if t.Domain != attack.Enterprise {
			ics++
			continue
		}
		top = max(top, t.Count)
		var c strings.Builder
		fmt.Fprintf(&c, "%d detections by vigil", t.Count)
		for i, rc := range t.Rules {
			if i == 0 {
				c.WriteString(": ")
			} else {
				c.WriteString("; ")
			}
			fmt.Fprintf(&c, "%s (%d)", rc.Name, rc.Count)
		}
		for _, ta := range t.Tactics {
			l.Techniques = append(l.Techniques, layerTech{
				TechniqueID: t.ID, Tactic: ta, Score: t.Count, Comment: c.String(), Enabled: true,
			})
		}
	}
	// maxValue must be greater than minValue.
	l.Gradient = layerGradient{Colors: []string{"#ffecb3", "#f08c00", "#a50f15"}, MinValue: 0, MaxValue: max(top, 1)}
	l.Legend = []layerLegend{
		{Label: "few detections", Color: "#ffecb3"},
		{Label: fmt.Sprintf("%d detections (most)", l.Gradient.MaxValue), Color: "#a50f15"},
	}
	var d strings.Builder
	fmt.Fprintf(&d, "Techniques of the Sigma rules that fired: %d detections", r.Total)
	if r.Meta.Files > 0 {
		fmt.Fprintf(&d, " in %d events from %d files", r.Meta.Events, r.Meta.Files)
	}
	if !r.FirstTime.IsZero() {
		fmt.Fprintf(&d, ", events from %s to %s", fmtTime(r.FirstTime), fmtTime(r.LastTime))
	}
	d.WriteString(". Score: number of detections.")
	if ics > 0 {
		fmt.Fprintf(&d, " %d ICS techniques are not in this enterprise layer.", ics)
	}
	l.Description = d.String()
	l.Metadata = []layerMetaKV{{Name: "generated", Value: fmtTime(r.Generated)}}
	if r.Meta.Version != "" {
		l.Metadata = append(l.Metadata, layerMetaKV{Name: "vigil version", Value: r.Meta.Version})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("writing the Navigator layer: %w", err)
	}
	return nil
}
