// Package rules is vigil's built-in Sigma rule pack.
//
// The rules were written by the vigil project for the threats that most often
// hit small organisations (rural hospitals, water utilities, credit unions):
// ransomware precursors, credential dumping, lateral movement, persistence,
// defence evasion, suspicious PowerShell, brute force and basic discovery on
// Windows. Every rule is a Sigma specification v2 YAML document, one rule per
// file, under windows/<category-or-service>/. The pack is licensed under the
// project's own licence; see README.md in this directory.
//
// testdata/samples.tsv names, for every rule, at least one public EVTX attack
// sample (relative to the shared corpus root) and the minimum number of records
// of that sample the rule must match.
package rules
