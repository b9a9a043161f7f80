package normalize

import (
	"testing"

	"github.com/vigil-defense/vigil/internal/event"
)

// FuzzLoad feeds arbitrary table files to Load: it must return a table or
// an error, never panic, and a table it returns must classify.
func FuzzLoad(f *testing.F) {
	for _, n := range []string{"cloud", "linux", "windows", "zeek"} {
		data, err := tablesFS.ReadFile("tables/" + n + ".yml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("sources:\n  - name: a\n    when: {x: [1, 2], y: \"*\", z: null}\n    logsources: [{product: p}]\n    aliases: {A: B}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Load(nil, data, "fuzz.yml")
		if err != nil {
			return
		}
		e := &event.Event{}
		for _, k := range tab.KeyFields() {
			e.AddString(k, "1")
		}
		tab.Classify(e)
	})
}

// FuzzClassifyKey checks that no byte string makes ClassifyKey panic.
func FuzzClassifyKey(f *testing.F) {
	tab := Default()
	f.Add(tab.Key(ev("Channel", "Security", "EventID", "4688"), nil))
	f.Add([]byte{2, 255, 1})
	f.Fuzz(func(t *testing.T, key []byte) {
		tab.ClassifyKey(key)
	})
}
