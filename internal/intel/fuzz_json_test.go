package intel

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadJSON feeds damaged JSON feeds to the loaders that read JSON —
// STIX bundles, MISP events, CISA KEV, MISP warninglists, JSON lists —
// by content detection, as a folder of downloads would be read. Whatever
// the input, loading must not panic, every error must name the file, and
// every indexed value must be found again by its own lookup. Seeds: one
// small document of each kind, and the shared corpus's small JSON feeds
// when it is present.
func FuzzLoadJSON(f *testing.F) {
	for _, s := range []string{
		`{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--1","pattern":"[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","confidence":70,"labels":["c2"]},{"type":"domain-name","id":"domain-name--2","value":"bad.example"},{"type":"marking-definition","id":"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"}]}`,
		`{"Event":{"uuid":"5e0f","info":"x","Orgc":{"name":"CIRCL"},"Attribute":[{"type":"ip-dst","value":"203.0.113.9","to_ids":true,"uuid":"a1"},{"type":"domain|ip","value":"evil.example|203.0.113.10","uuid":"a2"},{"type":"sha256","value":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","uuid":"a3"}],"Tag":[{"name":"tlp:amber"}]}}`,
		`{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2024.01.01","vulnerabilities":[{"cveID":"CVE-2021-44228","vendorProject":"Apache","product":"Log4j","vulnerabilityName":"Log4Shell","dateAdded":"2021-12-10"}]}`,
		`{"name":"List of known public DNS resolvers","type":"cidr","matching_attributes":["ip-src","ip-dst"],"list":["8.8.8.8/32","1.1.1.0/24"]}`,
		`[{"ioc":"http://evil.example/gate.php","ioc_type":"url","threat_type":"botnet_cc","confidence_level":75},{"ip_address":"192.0.2.44","port":443}]`,
	} {
		f.Add([]byte(s))
	}
	n := 0
	filepath.WalkDir("../../../shared/corpus/intel", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".json" || n == 24 {
			return nil
		}
		if st, err := d.Info(); err == nil && st.Size() < 8<<10 {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data)
				n++
			}
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBuilder()
		b.maxInflated = 1 << 20
		b.LoadBytes("fuzz.json", data, LoadOptions{})
		checkLoaded(t, b, "fuzz.json")
	})
}
