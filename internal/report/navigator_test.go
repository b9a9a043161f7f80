package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
)

func TestNavigator(t *testing.T) {
	ds := append(sample(), det("high", "SMB share", 0, "FS1", []string{"attack.t1021.002", "attack.t0866"}))
	var buf bytes.Buffer
	if err := WriteNavigator(&buf, build(ds, 100)); err != nil {
		t.Fatal(err)
	}
	var l struct {
		Name     string
		Versions struct{ Attack, Navigator, Layer string }
		Domain   string
		Desc     string `json:"description"`
		Techs    []struct {
			TechniqueID, Tactic, Comment string
			Score                        *int
			Enabled                      *bool
		} `json:"techniques"`
		Gradient struct {
			Colors             []string
			MinValue, MaxValue int
		}
		LegendItems []struct{ Label, Color string }
	}
	if err := json.Unmarshal(buf.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if l.Name == "" || l.Versions.Attack != "18" || l.Versions.Navigator != "5.1.0" || l.Versions.Layer != "4.5" || l.Domain != "enterprise-attack" {
		t.Errorf("header: %+v", l)
	}
	var got []string
	for _, te := range l.Techs {
		if te.Score == nil || te.Enabled == nil || !*te.Enabled || te.Comment == "" {
			t.Errorf("technique %+v lacks score, enabled or comment", te)
			continue
		}
		got = append(got, fmt.Sprintf("%s/%s=%d", te.TechniqueID, te.Tactic, *te.Score))
	}
	sort.Strings(got)
	// T1021.002 is lateral movement only; T1003.001 and T1110 credential access;
	// T0866 is an ICS technique, left out of the enterprise layer.
	want := "[T1003.001/credential-access=1 T1021.002/lateral-movement=1 T1110.001/credential-access=3 T1110/credential-access=1]"
	if fmt.Sprint(got) != want {
		t.Errorf("techniques\n got %v\nwant %s", got, want)
	}
	if l.Gradient.MinValue != 0 || l.Gradient.MaxValue != 3 || len(l.Gradient.Colors) < 2 || len(l.LegendItems) == 0 {
		t.Errorf("gradient %+v legend %+v", l.Gradient, l.LegendItems)
	}
	if !bytes.Contains([]byte(l.Desc), []byte("1 ICS techniques are not in this enterprise layer")) {
		t.Errorf("description %q", l.Desc)
	}
}

// A technique with several tactics gets one entry per tactic; an empty
// report still has a valid gradient (maxValue > minValue).
func TestNavigatorTacticsAndEmpty(t *testing.T) {
	d := det("high", "sched", 0, "h", []string{"attack.t1053.005"})
	b := NewBuilder(Meta{})
	b.Add(&d)
	var buf bytes.Buffer
	if err := WriteNavigator(&buf, b.Report()); err != nil {
		t.Fatal(err)
	}
	var l struct {
		Techniques []struct{ TechniqueID, Tactic string }
		Gradient   struct{ MinValue, MaxValue int }
	}
	if err := json.Unmarshal(buf.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(l.Techniques) != "[{T1053.005 execution} {T1053.005 persistence} {T1053.005 privilege-escalation}]" {
		t.Errorf("T1053.005 entries: %v", l.Techniques)
	}
	buf.Reset()
	if err := WriteNavigator(&buf, NewBuilder(Meta{}).Report()); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &l); err != nil || len(l.Techniques) != 0 || l.Gradient.MaxValue <= l.Gradient.MinValue {
		t.Errorf("empty layer: %v %+v", err, l)
	}
}
