package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpus is the folder the go:generate line of package attack reads,
// relative to this directory.
const corpus = "../../../../shared/corpus/attack"

// TestCheckedIn checks that generating from the corpus gives exactly the
// checked-in table_gen.go, twice (the output is deterministic).
func TestCheckedIn(t *testing.T) {
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("ATT&CK corpus not available: %v", err)
	}
	want, err := os.ReadFile("../table_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		got, err := Generate(corpus, "")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d: generated table differs from ../table_gen.go (%d vs %d bytes); run go generate ./internal/attack", i, len(got), len(want))
		}
	}
	for _, s := range []string{
		"// Code generated ", " DO NOT EDIT.\n",
		"© 2025 The MITRE Corporation. This work is reproduced and distributed with the permission of The MITRE Corporation.",
		"MITRE's copyright designation and this license in any such copy.",
		"MITRE ATT&CK v18.1", `const Version = "18.1"`,
	} {
		if !bytes.Contains(want, []byte(s)) {
			t.Errorf("table_gen.go lacks %q", s)
		}
	}
	t.Logf("table_gen.go: %d bytes", len(want))
}

// TestRefusesUnknownTactic checks that a corpus with a tactic missing from
// the generator's matrix order is refused, and -version overrides SOURCE.txt.
func TestRefusesUnknownTactic(t *testing.T) {
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("ATT&CK corpus not available: %v", err)
	}
	dir := t.TempDir()
	copyTree(t, corpus, dir)
	if _, err := Generate(dir, "99.9"); err != nil {
		t.Fatal(err)
	}
	extra := `{"type":"bundle","objects":[{"type":"x-mitre-tactic","id":"x-mitre-tactic--x","name":"Stealth",` +
		`"x_mitre_shortname":"stealth","external_references":[{"source_name":"mitre-attack","external_id":"TA0199"}]}]}`
	if err := os.WriteFile(filepath.Join(dir, "enterprise-attack", "x-mitre-tactic", "new.json"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(dir, ""); err == nil || !strings.Contains(err.Error(), "TA0199") {
		t.Errorf("Generate with an unknown tactic: err = %v", err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
